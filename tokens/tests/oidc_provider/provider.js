// A real OpenID Connect provider for the tests (tokens/tests/oidc_server.py starts it):
// panva's oidc-provider with its development login form, PKCE required, consent granted at once.
//
// Environment: PORT, ISSUER, CLIENTS (JSON array of client metadata), JWKS (JSON, private keys:
// the tests hold the same key, so they can also sign ID tokens "as the provider"), ACCOUNTS_FILE
// (JSON {login: claims}, read at each sign-in so a test can add people), ID_TOKEN_TTL (seconds).
import fs from 'node:fs';
import Provider from 'oidc-provider';

const accounts = () => JSON.parse(fs.readFileSync(process.env.ACCOUNTS_FILE, 'utf8'));

const provider = new Provider(process.env.ISSUER, {
  clients: JSON.parse(process.env.CLIENTS),
  jwks: JSON.parse(process.env.JWKS),
  cookies: { keys: ['only-for-tests'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'given_name', 'family_name'],
  },
  conformIdTokenClaims: false, // the ID token carries the scopes' claims, as Google's and Microsoft's do
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  ttl: { IdToken: Number(process.env.ID_TOKEN_TTL || 3600) },
  async findAccount(ctx, sub) {
    const claims = accounts()[sub];
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

provider.listen(Number(process.env.PORT), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
