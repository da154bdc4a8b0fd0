import assert from 'node:assert/strict';
import Ajv04 from 'ajv-draft-04';
import { BrokerFailure } from '../../broker/osb/errors';
import { BINDING_PARAMETERS_SCHEMA, parseBindingParameters, parseInstanceParameters } from '../../broker/parameters';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BrokerFailure, `expected BrokerFailure, got ${String(err)}`);
    assert.equal(err.kind, 'BadRequest');
    return err.description;
  }
  assert.fail('expected the parameters to be refused');
}

describe('bind and instance parameters', () => {
  it('accepts path, scheme and labels', () => {
    assert.deepEqual(parseBindingParameters({ path: '/internal/metrics', scheme: 'http', labels: { team: 'pay' } }), {
      path: '/internal/metrics',
      scheme: 'http',
      labels: { team: 'pay' },
    });
    assert.deepEqual(parseBindingParameters(undefined), {});
  });

  it('names unknown parameters and lists the supported ones', () => {
    const d = refusal(() => parseBindingParameters({ pathh: '/x', port: 8080 }));
    assert.match(d, /unknown parameters "pathh", "port"; supported: path, scheme, labels/);
  });

  it('refuses relative paths, "..", queries and whitespace in path', () => {
    for (const path of ['metrics', '/a/../b', '/..', '/a?x=1', '/a b', '//evil.example/metrics', '/a#b']) {
      assert.match(
        refusal(() => parseBindingParameters({ path })),
        /path must be an absolute URL path/,
        path,
      );
    }
  });

  it('refuses a scheme other than http or https', () => {
    assert.match(
      refusal(() => parseBindingParameters({ scheme: 'ftp' })),
      /scheme/,
    );
  });

  it('refuses reserved, internal and invalid label names with the reason', () => {
    assert.match(
      refusal(() => parseBindingParameters({ labels: { job: 'x' } })),
      /"job" is set by the broker/,
    );
    assert.match(
      refusal(() => parseBindingParameters({ labels: { __address__: 'x' } })),
      /starts with "__"/,
    );
    assert.match(
      refusal(() => parseBindingParameters({ labels: { '1bad': 'x' } })),
      /not a valid Prometheus label name/,
    );
    assert.match(
      refusal(() => parseBindingParameters({ labels: { ok: 5 } })),
      /labels\.ok must be string/,
    );
  });

  it('limits the number of extra labels', () => {
    const labels = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`l${i}`, 'v']));
    assert.match(
      refusal(() => parseBindingParameters({ labels })),
      /labels must NOT have more than 20 properties/,
    );
  });

  it('instance parameters take labels only', () => {
    assert.deepEqual(parseInstanceParameters({ labels: { env: 'prod' } }), { labels: { env: 'prod' } });
    assert.match(
      refusal(() => parseInstanceParameters({ path: '/x' })),
      /unknown parameter "path"; supported: labels/,
    );
  });

  it('publishes a schema that a draft-04 validator compiles, as CF requires', () => {
    assert.equal(BINDING_PARAMETERS_SCHEMA.$schema, 'http://json-schema.org/draft-04/schema#');
    const validate = new Ajv04({ strict: true }).compile(BINDING_PARAMETERS_SCHEMA);
    assert.equal(validate({ path: '/m' }), true);
    assert.equal(validate({ nope: 1 }), false);
  });
});
