import { z } from 'zod';
import { DEFAULT_MEMBER_CERTIFICATE_SECONDS } from '../../config/schema';
import { CertificateRequestError, checkCsr, memberSubject, signMemberCertificate } from '../ca';
import { badField, HubError } from '../errors';
import {
  address,
  CertificateAnswer,
  CertificateRequest,
  DomainsAnswer,
  HeartbeatRequest,
  HeartbeatResponse,
  IdentityAnswer,
  LoginFailuresReport,
  LoginThrottleAnswer,
  memberId,
  MemberUserAnswer,
  PlacementSnapshot,
  ProposalAck,
  RecipientAnswer,
  RegisterRequest,
  RegisterResponse,
  SUPPORTED_PROTOCOL_VERSIONS,
  UsersLookupAnswer,
  UsersLookupRequest,
} from '../protocol';
import { route, type AnyRoute } from './route';


/** Internal member ↔ hub endpoints (bearer cluster token); protocol/cluster.ts describes the conversation. */
export const CLUSTER_ROUTES: AnyRoute[] = [
  route({
    method: 'POST',
    path: '/v1/cluster/register',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'A member registers (or resumes after a hub failover) and gets timing, placement and settings',
    body: RegisterRequest,
    response: RegisterResponse,
    handler: ({ hub, body }) => {
      if (!SUPPORTED_PROTOCOL_VERSIONS.includes(body.protocol)) {
        throw new HubError('bad_request', `protocol ${body.protocol} is not spoken here`, [{ path: 'body.protocol', message: `must be one of ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}` }]);
      }
      return hub.register(body);
    },
  }),
  route({
    method: 'POST',
    path: '/v1/cluster/heartbeat',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'Renews the member’s lease (409: register again)',
    body: HeartbeatRequest,
    response: HeartbeatResponse,
    handler: ({ hub, body }) => {
      const a = hub.active();
      a.members.heartbeat(body);
      hub.activity.sample(body.memberId, body.stats);
      return {
        ok: true,
        leaseMs: hub.o.timing.leaseMs,
        placementVersion: a.placement.snapshot.version,
        settingsVersion: a.settings.current().version,
        directorySeq: a.directory.sequence,
      };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/cluster/stream',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'The member’s event stream (NDJSON lines of StreamEvent), held open',
    query: z.strictObject({ member: memberId, incarnation: z.coerce.number().int().nonnegative() }),
    responseType: 'application/x-ndjson',
    handler: ({ hub, query, res, req }) => {
      const a = hub.active();
      const m = a.members.current(query.member, query.incarnation);
      const [hello, ...rest] = hub.streamStart(m);
      req.socket.setKeepAlive(true, 1000);
      req.socket.setNoDelay(true);
      hub.streams.attach(m.id, m.incarnation, res, hello!);
      for (const e of rest) hub.streams.send(m.id, e);
      return undefined;
    },
  }),
  route({
    method: 'POST',
    path: '/v1/cluster/login-failures',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'A member reports failed logins per (user, client address) and gets every pair at its limit cluster-wide',
    body: LoginFailuresReport,
    response: LoginThrottleAnswer,
    handler: ({ hub, body }) => {
      // Counted per role: a login through a proxy is reported by the proxy and by its node (throttle/board.ts).
      return hub.logins.report(body, hub.active().members.get(body.memberId)?.role ?? 'unregistered');
    },
  }),
  route({
    method: 'POST',
    path: '/v1/cluster/ack',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'A node has released every mailbox a placement proposal takes from it',
    body: ProposalAck,
    response: z.strictObject({ ok: z.literal(true) }),
    handler: ({ hub, body }) => {
      const a = hub.active();
      a.members.current(body.memberId, body.incarnation);
      a.placement.ack(body.memberId, body.proposal);
      return { ok: true as const };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/cluster/placement',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'The committed placement snapshot',
    response: PlacementSnapshot,
    handler: ({ hub }) => hub.active().placement.snapshot,
  }),
  route({
    method: 'GET',
    path: '/v1/cluster/users/{address}',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'A user as a node needs it to log them in (scrypt hash, effective quota, enabled); null when unknown',
    params: z.strictObject({ address }),
    response: MemberUserAnswer,
    handler: ({ hub, params }) => {
      const d = hub.active().directory;
      return { user: d.memberUser(params.address), seq: d.sequence };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/cluster/users/lookup',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'Many users at once (a node warming its cache); unknown addresses are left out',
    body: UsersLookupRequest,
    response: UsersLookupAnswer,
    handler: ({ hub, body }) => {
      const d = hub.active().directory;
      const users = body.addresses.map((a) => d.memberUser(a)).filter((u) => u !== null);
      return { users, seq: d.sequence };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/cluster/recipients/{address}',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'What a recipient address is, for a gateway: mailbox, alias, unknown, not hosted',
    params: z.strictObject({ address }),
    response: RecipientAnswer,
    handler: ({ hub, params }) => {
      const d = hub.active().directory;
      return { recipient: d.recipient(params.address), seq: d.sequence };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/cluster/identities/{address}',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'What an IMAP ACL identifier names (RFC 4314 §2): one user (aliases followed), several users, or nobody',
    params: z.strictObject({ address }),
    response: IdentityAnswer,
    handler: ({ hub, params }) => {
      const d = hub.active().directory;
      return { identity: d.identify(params.address), seq: d.sequence };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/cluster/domains',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'Every hosted domain (alias domains, catch-all, DKIM key reference)',
    response: DomainsAnswer,
    handler: ({ hub }) => {
      const d = hub.active().directory;
      return { domains: d.memberDomains(), seq: d.sequence };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/cluster/certificate',
    auth: 'cluster',
    tag: 'cluster',
    summary: 'A short-lived certificate from the cluster CA for the member’s own key (a PKCS#10 request), naming that member only',
    body: CertificateRequest,
    response: CertificateAnswer,
    handler: async ({ hub, body, req }) => {
      const a = hub.active();
      const ca = hub.o.ca;
      if (!ca) throw new HubError('unavailable', 'this hub has no cluster CA key (clusterCaKeyFile); members keep the certificate the deployment gave them');
      // Only a live, registered member, for itself (the cluster token alone does not say which member calls).
      const self = a.members.current(body.memberId, body.incarnation);
      const others = a.members
        .all()
        .map((m) => m.record)
        .filter((m) => m.id !== self.id);
      const { subject, refused } = memberSubject(body, self, others, { id: hub.o.memberId, host: new URL(hub.o.url).hostname }, req.socket.remoteAddress);
      if (refused.length) throw new HubError('forbidden', `the certificate may not name ${refused.map((r) => r.message.split(' ')[0]).join(', ')}: ${refused[0]!.message}`, refused);
      let publicKey;
      try {
        publicKey = await checkCsr(body.csrPem);
      } catch (err) {
        if (err instanceof CertificateRequestError) throw badField(err.field, err.message);
        throw err;
      }
      const validForMs = hub.o.memberCertificateMs ?? DEFAULT_MEMBER_CERTIFICATE_SECONDS * 1000;
      const cert = await signMemberCertificate(ca, publicKey, subject, validForMs);
      hub.o.log.info({ member: self.id, names: [subject.memberId, ...subject.dns, ...subject.ips], notAfter: cert.notAfter.toISOString() }, 'member certificate issued');
      return { certPem: cert.certPem, caPem: ca.certPem, validForMs, notAfter: cert.notAfter.toISOString() };
    },
  }),
];
