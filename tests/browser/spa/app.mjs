// A single-page app, a public client (token_endpoint_auth_method none), signing a user in
// with the authorization code flow, PKCE S256 and DPoP (RFC 9449), entirely in the
// browser with oauth4webapi. tests/browser/spa_dpop.py serves it (with oauth4webapi's
// build at /oauth4webapi/ and the client's settings at /config.json) and drives it.
//
// "Sign in": discovery; a PKCE verifier, state and nonce (sessionStorage); an ES256 DPoP
// key pair whose private key is not extractable, kept in IndexedDB (a CryptoKey is
// structured-cloneable, and sessionStorage holds strings only); then off to the
// authorization endpoint. Back at the redirect URI: the code exchanged with a DPoP proof,
// one refresh with a proof by the same key (the key read back from IndexedDB), UserInfo
// with `Authorization: DPoP` and a proof. The token, refresh and UserInfo requests carry
// a `DPoP` header, which no CORS-safelisted request has: the browser sends a preflight
// for each, and the server must allow `dpop` in it.
//
// The outcome is JSON in <pre id="result">: what the test checks, or {"error": ...}.
import * as oauth from '/oauth4webapi/index.js';

const DB = 'spa-dpop';
const STORE = 'keys';
const KEY = 'dpop';
const PENDING = 'spa-dpop-pending';

const statusLine = document.getElementById('status');
const startButton = document.getElementById('start');

function show(outcome) {
  const pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = JSON.stringify(outcome);
  document.body.append(pre);
}

// One IndexedDB request in a transaction of its own; resolves with its result once the
// transaction has committed.
function idb(mode, use) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(STORE, mode);
      const request = use(tx.objectStore(STORE));
      tx.oncomplete = () => {
        db.close();
        resolve(request.result);
      };
      tx.onerror = tx.onabort = () => {
        db.close();
        reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      };
    };
  });
}

function payloadOf(jwt) {
  const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
}

async function setup() {
  const config = await (await fetch('/config.json')).json();
  const issuer = new URL(config.issuer);
  // Plain http only because the issuer is (the local stack on loopback).
  const http = { [oauth.allowInsecureRequests]: issuer.protocol === 'http:' };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
  const client = { client_id: config.client_id };
  return { config, as, client, http };
}

async function start({ config, as, client }) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  // The private key cannot leave WebCrypto (extractable false); the public one always can.
  const keyPair = await oauth.generateKeyPair('ES256');
  await idb('readwrite', (store) => store.put(keyPair, KEY));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce }));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: config.redirect_uri,
    response_type: 'code',
    scope: config.scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  location.assign(url.href);
}

async function finish({ config, as, client, http }, pending, step) {
  const callback = new URL(location.href);
  // The code is not left in the address bar (or the history).
  history.replaceState(null, '', config.redirect_uri);
  step('load the key');
  const keyPair = await idb('readonly', (store) => store.get(KEY));
  if (!keyPair?.privateKey || keyPair.privateKey.extractable) {
    throw new Error(`the DPoP key read back from IndexedDB is ${keyPair?.privateKey?.extractable ? 'extractable' : 'missing'}`);
  }
  const proofAlgs = new Set();
  const DPoP = oauth.DPoP(client, keyPair, {
    [oauth.modifyAssertion]: (header) => proofAlgs.add(header.alg),
  });
  const options = { ...http, DPoP };

  step('callback');
  const params = oauth.validateAuthResponse(as, client, callback, pending.state);
  step('code exchange');
  const granted = await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(
      as, client, oauth.None(), params, config.redirect_uri, pending.verifier, options,
    ),
    { expectedNonce: pending.nonce },
  );
  const idToken = oauth.getValidatedIdTokenClaims(granted);

  step('refresh');
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), granted.refresh_token, options),
  );

  step('userinfo');
  const userinfo = await oauth.processUserInfoResponse(
    as,
    client,
    idToken.sub,
    await oauth.userInfoRequest(as, client, refreshed.access_token, options),
  );

  step('thumbprint');
  const publicJwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  return {
    token_type: granted.token_type,
    refreshed_token_type: refreshed.token_type,
    refresh_rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== granted.refresh_token,
    id_token_sub: idToken.sub,
    userinfo,
    cnf_jkt: payloadOf(granted.access_token).cnf?.jkt ?? null,
    refreshed_cnf_jkt: payloadOf(refreshed.access_token).cnf?.jkt ?? null,
    thumbprint: await DPoP.calculateThumbprint(),
    public_jwk: publicJwk,
    private_key_extractable: keyPair.privateKey.extractable,
    proof_algs: [...proofAlgs],
    access_token: refreshed.access_token,
  };
}

function failure(err, step) {
  // ResponseBodyError: the server's `error` and status; WWWAuthenticateChallengeError:
  // its status and challenges; a TypeError "Failed to fetch": the browser refused (CORS).
  return {
    error: err?.error ?? err?.code ?? err?.name ?? String(err),
    status: err?.status ?? null,
    error_description: err?.error_description ?? null,
    challenges: err instanceof oauth.WWWAuthenticateChallengeError ? err.cause : null,
    message: String(err?.message ?? err),
    step,
  };
}

async function main() {
  let at = 'setup';
  const step = (name) => {
    at = name;
    statusLine.textContent = name;
  };
  try {
    const app = await setup();
    const raw = sessionStorage.getItem(PENDING);
    const query = new URLSearchParams(location.search);
    if (raw && (query.has('code') || query.has('error'))) {
      sessionStorage.removeItem(PENDING);
      show(await finish(app, JSON.parse(raw), step));
      step('signed in');
      return;
    }
    startButton.addEventListener('click', () => {
      step('start');
      startButton.disabled = true;
      start(app).catch((err) => show(failure(err, at)));
    });
    startButton.disabled = false;
    step('ready');
  } catch (err) {
    show(failure(err, at));
  }
}

main();
