import type { CcErrorInfo } from './errors';
import type { CcErrorBody } from './types';

/** What a CC error answer says about itself: the first entry of its v3 `errors`, when the body has one. */
export function ccErrorInfo(status: number, text: string, url: string): CcErrorInfo {
  try {
    const body = JSON.parse(text) as Partial<CcErrorBody>;
    const first = body.errors?.[0];
    if (first) return { status, title: first.title, code: first.code, detail: first.detail, url };
  } catch {
    // Not every error body is JSON (nginx 429/502 pages); the status says enough.
  }
  return { status, url };
}
