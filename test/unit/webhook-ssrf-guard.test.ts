import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../../src/config.js';
import {
  endpointUrlErrors,
  parseNetworks,
  pinnedLookup,
  refusedAddressReason,
  resolveChecked,
} from '../../src/services/webhooks/ssrf-guard.js';
import { backoffSeconds } from '../../src/services/webhooks/webhook-delivery-service.js';
import { newWebhookSecret, signWebhook } from '../../src/services/webhooks/webhook-sender.js';

describe('webhook SSRF guard', () => {
  const none = parseNetworks([]);

  it('refuses private, loopback, link-local, CGNAT, unique-local, multicast, unspecified and metadata addresses', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.5.6.7', 'loopback'],
      ['10.0.0.1', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['169.254.1.1', 'linkLocal'],
      ['169.254.169.254', 'metadata'],
      ['100.64.0.1', 'carrierGradeNat'],
      ['100.100.100.200', 'metadata'],
      ['0.0.0.0', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['240.0.0.1', 'reserved'],
      ['::1', 'loopback'],
      ['::', 'unspecified'],
      ['fe80::1', 'linkLocal'],
      ['fc00::1', 'uniqueLocal'],
      ['fd12:3456::1', 'uniqueLocal'],
      ['fd00:ec2::254', 'metadata'],
      ['ff02::1', 'multicast'],
      // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:10.1.2.3', 'private'],
      ['::ffff:169.254.169.254', 'metadata'],
      // IPv6 forms that embed an IPv4 address are refused as a whole.
      ['64:ff9b::a00:1', 'rfc6052'],
      ['2002:a00:1::1', '6to4'],
    ];
    for (const [address, reason] of cases) {
      expect(refusedAddressReason(address, none), address).to.equal(reason);
    }
  });

  it('accepts public unicast addresses', () => {
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(refusedAddressReason(address, none), address).to.equal(undefined);
    }
  });

  it('accepts what WEBHOOK_ALLOWED_NETWORKS allows, never the metadata addresses', () => {
    const allowed = parseNetworks(['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '169.254.0.0/16']);
    expect(refusedAddressReason('127.0.0.1', allowed)).to.equal(undefined);
    expect(refusedAddressReason('::ffff:127.0.0.1', allowed)).to.equal(undefined);
    expect(refusedAddressReason('127.0.0.2', allowed)).to.equal('loopback');
    expect(refusedAddressReason('10.9.9.9', allowed)).to.equal(undefined);
    expect(refusedAddressReason('fd12::1', allowed)).to.equal(undefined);
    expect(refusedAddressReason('169.254.169.254', allowed)).to.equal('metadata');
    expect(refusedAddressReason('fd00:ec2::254', allowed)).to.equal('metadata');
    expect(refusedAddressReason('192.168.0.1', allowed)).to.equal('private');
  });

  it('resolves names and refuses when any address is refused', async () => {
    let error: unknown;
    try {
      await resolveChecked('localhost', none);
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/refused: localhost resolves to .* \(loopback\)/);
    expect(await resolveChecked('127.0.0.1', parseNetworks(['127.0.0.1/32']))).to.deep.equal({
      address: '127.0.0.1',
      family: 4,
    });
    expect(await resolveChecked('[::1]', parseNetworks(['::1/128']))).to.deep.equal({
      address: '::1',
      family: 6,
    });
  });

  it('answers every lookup of the request with the address already checked', () => {
    const lookup = pinnedLookup({ address: '93.184.215.14', family: 4 });
    const answers: unknown[] = [];
    lookup('evil.example.test', { all: true }, (err, address) => answers.push([err, address]));
    lookup('evil.example.test', {}, (err, address, family) => answers.push([err, address, family]));
    expect(answers).to.deep.equal([
      [null, [{ address: '93.184.215.14', family: 4 }]],
      [null, '93.184.215.14', 4],
    ]);
  });

  it('checks endpoint URLs at registration', () => {
    expect(endpointUrlErrors('https://hooks.example.test/in?x=1', false)).to.deep.equal([]);
    expect(endpointUrlErrors('http://hooks.example.test/in', false)[0]!.message).to.equal(
      'must be an https:// URL',
    );
    expect(endpointUrlErrors('http://hooks.example.test/in', true)).to.deep.equal([]);
    expect(endpointUrlErrors('https://u:p@hooks.example.test/', false)[0]!.message).to.equal(
      'must not carry credentials',
    );
    expect(endpointUrlErrors('https://hooks.example.test/#x', false)[0]!.message).to.equal(
      'must not carry a fragment',
    );
    expect(endpointUrlErrors('file:///etc/passwd', true)[0]!.message).to.equal(
      'must be an http(s):// URL',
    );
    expect(endpointUrlErrors(`https://a.test/${'x'.repeat(2048)}`, false)).to.have.length(1);
  });

  it('validates the webhook configuration', () => {
    const config = loadConfig({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32, fd00::/8' });
    expect(config.webhookAllowedNetworks).to.deep.equal(['127.0.0.1/32', 'fd00::/8']);
    expect(config.webhookAllowHttp).to.equal(false);
    expect(config.webhookTimeoutMs).to.equal(10_000);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1' })).to.throw();
    expect(() => loadConfig({ WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/99' })).to.throw();
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(40),
        WEBHOOK_ALLOW_HTTP: 'true',
      }),
    ).to.throw();
  });

  it('signs as Standard Webhooks does (checked with the standardwebhooks package)', () => {
    const secret = newWebhookSecret();
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id: 'e1', type: 'form.published', data: { a: 'é' } });
    const signature = signWebhook(secret, 'msg_1', timestamp, body);
    expect(
      new Webhook(secret).verify(body, {
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      }),
    ).to.deep.equal(JSON.parse(body));
  });

  it('backs off 30 s doubling per attempt with jitter, at most an hour', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 8, 20].map((n) => backoffSeconds(n, mid))).to.deep.equal([
      30, 60, 120, 240, 3600, 3600,
    ]);
    expect(backoffSeconds(1, () => 0)).to.equal(24);
    expect(backoffSeconds(1, () => 1)).to.equal(36);
  });
});
