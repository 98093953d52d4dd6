import Crypto
import Foundation
import Support
import _CryptoExtras

/// A service account key file: signs a JWT (RS256) and trades it for an access token.
public enum ServiceAccountCredentials {
    /// The scope every client here needs.
    public static let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

    /// The key file's fields this client uses.
    public struct Key: Sendable {
        public var clientEmail: String
        public var privateKeyPEM: String
        public var privateKeyID: String?
        public var tokenURI: String
    }

    /// Reads a `"type": "service_account"` JSON object.
    public static func key(from json: [String: Any]) throws -> Key {
        guard let email = json["client_email"] as? String, let pem = json["private_key"] as? String else {
            throw GoogleCloudError.credentials("service account file lacks client_email or private_key")
        }
        return Key(clientEmail: email, privateKeyPEM: pem, privateKeyID: json["private_key_id"] as? String,
                   tokenURI: json["token_uri"] as? String ?? "https://oauth2.googleapis.com/token")
    }

    /// The signed assertion: `base64url(header).base64url(claims).base64url(RS256 signature)`.
    public static func jwt(key: Key, scopes: [String], issuedAt: Int64, lifetime: Int64 = 3600) throws -> String {
        let signingKey: _RSA.Signing.PrivateKey
        do {
            signingKey = try _RSA.Signing.PrivateKey(pemRepresentation: key.privateKeyPEM)
        } catch {
            throw GoogleCloudError.credentials("the service account private key could not be read")
        }
        var header = JSONWriter()
        header.beginObject()
        header.field("alg", "RS256"); header.field("typ", "JWT")
        if let id = key.privateKeyID { header.field("kid", id) }
        header.endObject()
        var claims = JSONWriter()
        claims.beginObject()
        claims.field("iss", key.clientEmail)
        claims.field("scope", scopes.joined(separator: " "))
        claims.field("aud", key.tokenURI)
        claims.field("iat", issuedAt)
        claims.field("exp", issuedAt + lifetime)
        claims.endObject()
        let signingInput = Base64.encode(header.bytes, urlSafe: true, padded: false) + "."
            + Base64.encode(claims.bytes, urlSafe: true, padded: false)
        let signature = try signingKey.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Base64.encode(Array(signature.rawRepresentation), urlSafe: true, padded: false)
    }

    /// A token provider that signs a fresh JWT whenever the cached token nears expiry.
    public static func provider(key: Key, scopes: [String] = [cloudPlatformScope], http: any HTTPClient,
                                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) -> CachedTokenProvider {
        let transport = RESTTransport(http: http, credentials: AnonymousCredentials())
        return CachedTokenProvider(now: now) {
            let issuedAt = now()
            let assertion = try jwt(key: key, scopes: scopes, issuedAt: Int64(issuedAt))
            return try TokenResponse.exchange(
                form: [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)],
                tokenURI: key.tokenURI, transport: transport, now: issuedAt, source: "service account \(key.clientEmail)")
        }
    }
}

/// A user's refresh token (`gcloud auth application-default login`), traded for access tokens.
public enum AuthorizedUserCredentials {
    public static let defaultTokenURI = "https://oauth2.googleapis.com/token"

    public static func provider(json: [String: Any], http: any HTTPClient,
                                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws -> CachedTokenProvider {
        guard let clientID = json["client_id"] as? String, let secret = json["client_secret"] as? String,
              let refresh = json["refresh_token"] as? String
        else {
            throw GoogleCloudError.credentials("authorized_user file lacks client_id, client_secret or refresh_token")
        }
        let tokenURI = json["token_uri"] as? String ?? defaultTokenURI
        let transport = RESTTransport(http: http, credentials: AnonymousCredentials())
        return CachedTokenProvider(now: now) {
            try TokenResponse.exchange(
                form: [("grant_type", "refresh_token"), ("client_id", clientID), ("client_secret", secret),
                       ("refresh_token", refresh)],
                tokenURI: tokenURI, transport: transport, now: now(), source: "authorized user")
        }
    }
}

/// Tokens from the metadata server of Compute Engine, Cloud Run, GKE …
public enum MetadataServerCredentials {
    /// `GCE_METADATA_HOST` when set, else `metadata.google.internal`.
    public static func host() -> String {
        ProcessInfo.processInfo.environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "metadata.google.internal"
    }

    public static func provider(http: any HTTPClient, host: String = MetadataServerCredentials.host(),
                                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) -> CachedTokenProvider {
        let transport = RESTTransport(http: http, credentials: AnonymousCredentials())
        let base = ServiceEndpoint.normalize(host)
        return CachedTokenProvider(now: now) {
            var request = HTTPRequest(method: "GET", url: "\(base)/computeMetadata/v1/instance/service-accounts/default/token")
            request.addHeader("Metadata-Flavor", "Google")
            do {
                let response = try transport.send(request, idempotent: true)
                return try TokenResponse.parse(response.body, now: now(), source: "metadata server")
            } catch let error as GoogleCloudError {
                if case .credentials = error { throw error }
                throw GoogleCloudError.credentials("metadata server at \(base): \(error.message)")
            }
        }
    }
}
