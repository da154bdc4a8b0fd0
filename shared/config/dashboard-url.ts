/**
 * DASHBOARD_URL: the link an app team sees in `cf service`, as a template with placeholders the
 * broker fills per service instance. Parsed once at start, so a typo stops the process instead
 * of handing every app team a broken link.
 */
export const DASHBOARD_URL_PLACEHOLDERS = ['org', 'space', 'org_guid', 'space_guid', 'instance_id'] as const;
export type DashboardUrlPlaceholder = (typeof DASHBOARD_URL_PLACEHOLDERS)[number];

/** Literal text and placeholders in order; literal parts are used as written. */
export type DashboardUrlTemplate = ReadonlyArray<string | { placeholder: DashboardUrlPlaceholder }>;

const KNOWN = new Set<string>(DASHBOARD_URL_PLACEHOLDERS);
const MAX_TEMPLATE_LENGTH = 2048;

/**
 * The template, or a problem (one line, without the variable name) when it is not an absolute
 * http(s) URL, uses a placeholder it does not know, or puts one before the path. Placeholders may
 * only stand after the host: a tenant's org or space name must never choose where the link goes.
 */
export function parseDashboardUrlTemplate(text: string): DashboardUrlTemplate | { problem: string } {
  if (text.length > MAX_TEMPLATE_LENGTH) return { problem: `is longer than ${MAX_TEMPLATE_LENGTH} characters` };
  // Whitespace and control characters are never part of a URL; a pasted newline is a mistake.
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(text))
    return { problem: 'contains whitespace or a control character; percent-encode it' };
  const parts: Array<string | { placeholder: DashboardUrlPlaceholder }> = [];
  const braces = /\{([^{}]*)\}|[{}]/g;
  let at = 0;
  for (let m = braces.exec(text); m; m = braces.exec(text)) {
    if (m[1] === undefined)
      return { problem: `has a lone "${m[0]}" at character ${m.index + 1}; placeholders are written {name}` };
    if (!KNOWN.has(m[1]))
      return {
        problem: `has an unknown placeholder {${m[1]}}; known: ${DASHBOARD_URL_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
      };
    if (m.index > at) parts.push(text.slice(at, m.index));
    parts.push({ placeholder: m[1] as DashboardUrlPlaceholder });
    at = m.index + m[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));

  const prefix = typeof parts[0] === 'string' ? parts[0] : '';
  if (!/^https?:\/\//i.test(prefix) || /^https?:\/\/[/?#]/i.test(text))
    return { problem: 'must be an http(s) URL, e.g. https://grafana.example.com/d/apps?var-org={org}' };
  if (parts.length > 1 && !/^https?:\/\/[^/?#]+[/?#]/i.test(prefix))
    return { problem: 'has a placeholder in the host; placeholders may only stand in the path, query or fragment' };
  try {
    const url = new URL(fillDashboardUrl(parts, () => 'x')!);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(url.protocol);
  } catch {
    return { problem: 'must be an http(s) URL, e.g. https://grafana.example.com/d/apps?var-org={org}' };
  }
  return parts;
}

/**
 * The URL with every placeholder replaced by its value, percent-encoded (encodeURIComponent), so
 * a name with spaces, "/", "&", "#" or any unicode stays one path segment or query value.
 * Undefined when a placeholder the template uses has no value (or one that cannot be encoded).
 */
export function fillDashboardUrl(
  template: DashboardUrlTemplate,
  valueOf: (placeholder: DashboardUrlPlaceholder) => string | undefined,
): string | undefined {
  let url = '';
  for (const part of template) {
    if (typeof part === 'string') {
      url += part;
      continue;
    }
    const value = valueOf(part.placeholder);
    if (value === undefined) return undefined;
    try {
      url += encodeURIComponent(value);
    } catch {
      // A lone UTF-16 surrogate (possible in JSON) has no UTF-8 encoding: no link rather than a wrong one.
      return undefined;
    }
  }
  return url;
}

/** The placeholders a template uses, for messages. */
export function placeholdersOf(template: DashboardUrlTemplate): DashboardUrlPlaceholder[] {
  return template.flatMap((p) => (typeof p === 'string' ? [] : [p.placeholder]));
}
