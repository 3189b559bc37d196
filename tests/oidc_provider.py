"""A minimal OpenID Connect provider for the sign-in tests: discovery, an authorization page
where the person types the account to sign in as, the authorization-code exchange (with PKCE
when the client sends it), signed ID tokens (RS256, Authlib's JOSE) and the JWKS to check them.
Real protocol end to end, so Streamlit's own `st.login` (Authlib's client) runs unchanged; only
the password check of a real provider is left out.

Run `python tests/oidc_provider.py PORT CLIENT_ID CLIENT_SECRET` or use `OidcProvider` in a test.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.jose import JsonWebKey, jwt


class OidcProvider:
    def __init__(self, client_id: str, client_secret: str, port: int = 0) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
        self._codes: dict[str, dict] = {}
        self._tokens: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _claims(self, email: str, nonce: str | None) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": hashlib.sha256(email.encode()).hexdigest()[:24],
            "aud": self.client_id,
            "iat": now,
            "exp": now + 600,
            "email": email,
            "email_verified": True,
            "name": email.split("@", 1)[0].title(),
        }
        if nonce:
            claims["nonce"] = nonce
        return claims

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": f"{provider.issuer}/authorize",
                            "token_endpoint": f"{provider.issuer}/token",
                            "jwks_uri": f"{provider.issuer}/jwks",
                            "userinfo_endpoint": f"{provider.issuer}/userinfo",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "scopes_supported": ["openid", "email", "profile"],
                            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                            "code_challenge_methods_supported": ["S256"],
                        }
                    )
                elif url.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(is_private=False)]})
                elif url.path == "/userinfo":
                    token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    grant = provider._tokens.get(token)
                    if grant is None:
                        self._json({"error": "invalid_token"}, 401)
                    else:
                        self._json(provider._claims(grant["email"], None))
                elif url.path == "/authorize":
                    if query.get("client_id") != provider.client_id:
                        self._json({"error": "unauthorized_client"}, 400)
                        return
                    hidden = "".join(
                        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                        for k, v in query.items()
                    )
                    page = (
                        "<!doctype html><title>Test provider</title><form method=post action=/authorize>"
                        f'{hidden}<label>Email <input name="login_email" type="email"></label>'
                        "<button type=submit>Continue</button></form>"
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                form = self._form()
                if self.path == "/authorize":
                    code = secrets.token_urlsafe(16)
                    provider._codes[code] = form
                    target = form["redirect_uri"] + "?" + urlencode({"code": code, "state": form.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                elif self.path == "/token":
                    basic = self.headers.get("Authorization", "")
                    if basic.startswith("Basic "):
                        cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                    else:
                        cid, secret = form.get("client_id", ""), form.get("client_secret", "")
                    grant = provider._codes.pop(form.get("code", ""), None)
                    if (cid, secret) != (provider.client_id, provider.client_secret) or grant is None:
                        self._json({"error": "invalid_grant"}, 400)
                        return
                    if grant.get("redirect_uri") != form.get("redirect_uri"):
                        self._json({"error": "invalid_grant"}, 400)
                        return
                    challenge = grant.get("code_challenge")
                    if challenge:
                        verifier = form.get("code_verifier", "").encode()
                        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                        if digest != challenge:
                            self._json({"error": "invalid_grant"}, 400)
                            return
                    access = secrets.token_urlsafe(16)
                    provider._tokens[access] = {"email": grant["login_email"]}
                    id_token = jwt.encode(
                        {"alg": "RS256", "kid": "test-key"},
                        provider._claims(grant["login_email"], grant.get("nonce")),
                        provider.key,
                    ).decode()
                    self._json(
                        {"access_token": access, "token_type": "Bearer", "expires_in": 600, "id_token": id_token}
                    )
                else:
                    self._json({"error": "not_found"}, 404)

        return Handler


if __name__ == "__main__":
    port, client_id, client_secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with OidcProvider(client_id, client_secret, port) as running:
        print(running.metadata_url, flush=True)
        threading.Event().wait()
