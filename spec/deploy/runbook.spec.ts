import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CHECK_NAMES } from '../../doctor/report';

const ROOT = resolve(__dirname, '..', '..', '..');

describe('docs/runbook.md: each alert starts with the doctor check that answers it', () => {
  const runbook = readFileSync(resolve(ROOT, 'docs', 'runbook.md'), 'utf8');
  const alerts = [
    ...readFileSync(resolve(ROOT, 'deploy', 'prometheus', 'alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g),
  ]
    .map((m) => m[1])
    // Several alerts may share one section (the rule's runbook link says which).
    .filter((a) => runbook.includes(`## ${a}\n`));

  it('every alert section opens with a "Doctor first." line naming checks doctor really makes', () => {
    assert.ok(alerts.length >= 7, `${alerts.length} alert sections`);
    for (const alert of alerts) {
      const section = runbook.split(`## ${alert}\n`)[1].split('\n## ')[0];
      const first = section.trim().split('\n\n')[0];
      assert.match(first, /^\*\*Doctor first\.\*\* `cf-app-discovery doctor/, `${alert}: first paragraph`);
      const named = [...first.matchAll(/`([a-z]+(?: [a-z]+)+)`/g)].map((m) => m[1]);
      assert.ok(named.length > 0, `${alert} names a check`);
      for (const check of named)
        assert.ok((CHECK_NAMES as readonly string[]).includes(check), `${alert}: "${check}" is not a doctor check`);
    }
  });
});
