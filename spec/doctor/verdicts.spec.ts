import assert from 'node:assert/strict';
import { setSpaceRoleCommand, visibilityVerdict, whereBound } from '../../doctor/cloud-controller';
import { lastSuccessFromMetrics, reconcileVerdict } from '../../doctor/reconcile';
import { renderText, report, result, shownUrl } from '../../doctor/report';
import type { CfCredentials } from '../../shared/config/load';
import type { BindingRecord, InstanceRecord } from '../../shared/records/records';

/* The verdicts that the deployment specs reach only with effort: stale reconciles, clients, no names. */

const USER: CfCredentials = { kind: 'password', principal: 'reader', username: 'reader', password: 'x' };
const CLIENT: CfCredentials = { kind: 'client', principal: 'discovery', clientId: 'discovery', clientSecret: 'y' };
const NOW = Date.parse('2026-12-01T00:00:00Z');

describe('doctor verdicts', () => {
  it('last reconcile: from the metric, fail after 30 minutes, warn before the first success', () => {
    const page = (v: string) => `# HELP x\ncf_app_discovery_reconcile_last_success_timestamp_seconds ${v}\n`;
    assert.equal(lastSuccessFromMetrics(page('1764547200')), 1764547200);
    assert.equal(lastSuccessFromMetrics('other_metric 1\n'), undefined);
    const at = (seconds: number) => reconcileVerdict({ metricsUrl: 'u', text: page(String(seconds)) }, undefined, NOW);
    assert.equal(at(NOW / 1000 - 60).verdict, 'ok');
    const stale = at(NOW / 1000 - 3600);
    assert.equal(stale.verdict, 'fail');
    assert.match(stale.found, /60 min ago/);
    assert.match(stale.advice!, /reconcile failed/);
    assert.equal(at(0).verdict, 'warn');
    assert.equal(reconcileVerdict({ metricsUrl: 'u', text: 'up 1\n' }, undefined, NOW).verdict, 'fail');
  });

  it('set-space-role: names from the bind context, else the instance record; guids and --client otherwise', () => {
    const binding = { binding_id: 'b', instance_id: 'i', app_guid: 'a', context: {} } as unknown as BindingRecord;
    const instance = {
      instance_id: 'i',
      organization_guid: 'org-guid',
      space_guid: 'space-guid',
      context: { organization_name: 'shop', space_name: 'prod' },
    } as unknown as InstanceRecord;
    const named = { bindingId: 'b', appGuid: 'a', ...whereBound(binding, instance) };
    assert.equal(setSpaceRoleCommand(USER, named), 'cf set-space-role reader shop prod SpaceAuditor');
    const bare = { bindingId: 'b', appGuid: 'a', ...whereBound(binding, { ...instance, context: undefined }) };
    assert.equal(
      setSpaceRoleCommand(CLIENT, bare),
      'cf set-space-role discovery ORG_OF_org-guid SPACE_space-guid SpaceAuditor --client',
    );
    const v = visibilityVerdict(CLIENT, 5, 1, [bare]);
    assert.equal(v.verdict, 'fail');
    assert.match(v.details![0], /cf curl \/v3\/spaces\/space-guid\?include=organization names them/);
  });

  it('text output: long lists are cut, --json keeps them all', () => {
    const many = Array.from({ length: 25 }, (_, i) => `item-${i}`);
    const text = renderText(report([result('records and files', 'warn', 'found', 'do', many)]));
    assert.match(text, /item-9\n {8}\.\.\. and 15 more \(--json lists all\)/);
    assert.ok(!text.includes('item-10'));
    assert.match(text, /0 ok, 1 warn, 0 fail\n$/);
  });

  it('URLs are shown without the credentials or query an operator may have put in them', () => {
    assert.equal(shownUrl('https://user:S3cret-pw@api.sys.example.com/v3?token=abc'), 'https://api.sys.example.com/v3');
    assert.equal(shownUrl('http://127.0.0.1:9090/'), 'http://127.0.0.1:9090');
    assert.equal(shownUrl('not a url S3cret'), 'the URL given (not a valid URL)');
  });
});
