// node oidc-provider, configured for the benchmark's grants: client_credentials,
// introspection and revocation, with its default in-memory adapter.
// Usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET
import Provider from 'oidc-provider';

const [port, clientId, clientSecret] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'read',
  }],
  scopes: ['read'],
  // The same ten minutes as our access tokens.
  ttl: { ClientCredentials: 600 },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
  },
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
