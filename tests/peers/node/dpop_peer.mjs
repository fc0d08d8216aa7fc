// A real DPoP client (RFC 9449) against our server: oauth4webapi's own DPoP support, from
// discovery to UserInfo, as a confidential client (client_secret_basic) would use it.
//
// Usage: node tests/peers/node/dpop_peer.mjs   (after `npm ci --prefix tests/peers/node`)
// Env: ISSUER (http://127.0.0.1:PORT: plain http is allowed for http issuers only),
//      CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD, DPOP_ALG (ES256 | EdDSA | RS256; ES256),
//      RESOURCE_URL (optional: also GET it with the access token, protectedResourceRequest),
//      REQUEST_TIMEOUT_MS (optional, each HTTP request; 60000).
// Steps: discovery; password grant with a DPoP proof (token_type must be DPoP); refresh
// with the same key (token_type must be DPoP again); UserInfo with the refreshed token.
// Prints one JSON line: {token_type, refreshed_token_type, proof_alg, userinfo,
// access_token (the refreshed one), jkt (RFC 7638 SHA-256 thumbprint of the DPoP public
// key)[, resource: {status, body}]}. On any error: the error on stderr, exit status 1.
//
// Note: for an Ed25519 key oauth4webapi signs its proofs with the fully-specified JWS
// alg "Ed25519" (RFC 9864), not "EdDSA"; proof_alg says which alg the proofs carry.
import { inspect } from 'node:util';
import * as oauth from 'oauth4webapi';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// oauth4webapi's documented nonce handling: the DPoP handle has cached the server's
// DPoP-Nonce when the request is refused with use_dpop_nonce; send it again, once.
async function withNonceRetry(attempt) {
  try {
    return await attempt();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return attempt();
  }
}

function expectDPoP(result, step) {
  if (result.token_type !== 'dpop') {
    throw new Error(`${step}: token_type is ${JSON.stringify(result.token_type)}, not DPoP`);
  }
}

async function main() {
  const issuer = new URL(required('ISSUER'));
  const client = { client_id: required('CLIENT_ID') };
  const clientAuth = oauth.ClientSecretBasic(required('CLIENT_SECRET'));
  const username = required('USERNAME');
  const password = required('PASSWORD');
  const alg = process.env.DPOP_ALG || 'ES256';
  const resourceUrl = process.env.RESOURCE_URL ? new URL(process.env.RESOURCE_URL) : undefined;
  const timeoutMs = Number(process.env.REQUEST_TIMEOUT_MS || 60000);
  // Options every request shares: plain http only for an http issuer (the local stack).
  const http = {
    [oauth.allowInsecureRequests]: issuer.protocol === 'http:',
    signal: () => AbortSignal.timeout(timeoutMs),
  };

  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, http),
  );

  const keyPair = await oauth.generateKeyPair(alg);
  // The alg of the proofs, as oauth4webapi writes it in their header (nothing is changed).
  let proofAlg;
  const DPoP = oauth.DPoP(client, keyPair, {
    [oauth.modifyAssertion]: (header) => {
      proofAlg = header.alg;
    },
  });

  const granted = await withNonceRetry(async () =>
    oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await oauth.genericTokenEndpointRequest(
        as,
        client,
        clientAuth,
        'password',
        { username, password, scope: 'openid profile' },
        { ...http, DPoP },
      ),
    ),
  );
  expectDPoP(granted, 'password grant');
  if (!granted.refresh_token) throw new Error('password grant: no refresh_token');

  const refreshed = await withNonceRetry(async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, granted.refresh_token, {
        ...http,
        DPoP,
      }),
    ),
  );
  expectDPoP(refreshed, 'refresh');

  const userinfo = await withNonceRetry(async () =>
    oauth.processUserInfoResponse(
      as,
      client,
      oauth.skipSubjectCheck,
      await oauth.userInfoRequest(as, client, refreshed.access_token, { ...http, DPoP }),
    ),
  );

  const output = {
    token_type: granted.token_type,
    refreshed_token_type: refreshed.token_type,
    proof_alg: proofAlg,
    userinfo,
    access_token: refreshed.access_token,
    jkt: await DPoP.calculateThumbprint(),
  };

  if (resourceUrl) {
    // protectedResourceRequest rejects a WWW-Authenticate challenge itself, so a nonce
    // challenge surfaces from the request.
    const response = await withNonceRetry(() =>
      oauth.protectedResourceRequest(
        refreshed.access_token,
        'GET',
        resourceUrl,
        new Headers({ accept: 'application/json' }),
        null,
        { ...http, DPoP },
      ),
    );
    output.resource = { status: response.status, body: await response.text() };
  }

  process.stdout.write(`${JSON.stringify(output)}\n`);
}

// A Response in an error's cause: its status and headers (its body may be consumed).
function describeCause(cause) {
  if (cause instanceof Response) {
    return { status: cause.status, headers: Object.fromEntries(cause.headers) };
  }
  if (cause && typeof cause === 'object' && cause.response instanceof Response) {
    return { ...cause, response: describeCause(cause.response) };
  }
  return cause;
}

function report(err) {
  const described = {
    name: err?.name,
    code: err?.code,
    message: err?.message ?? String(err),
    cause: describeCause(err?.cause),
  };
  if (err instanceof oauth.ResponseBodyError) {
    Object.assign(described, {
      error: err.error,
      error_description: err.error_description,
      status: err.status,
    });
  } else if (err instanceof oauth.WWWAuthenticateChallengeError) {
    described.status = err.status;
  }
  process.stderr.write(`dpop_peer: ${inspect(described, { depth: 6, breakLength: Infinity })}\n`);
}

main().catch((err) => {
  report(err);
  process.exit(1);
});
