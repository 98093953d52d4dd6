import Crypto
import Foundation
import Support
import Synchronization
import Testing
import _CryptoExtras
@testable import GoogleCloud

@Suite struct CRC32CTests {
    @Test func knownVectorsFromRFC3720() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0...31)) == 0x46DD_794E)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func feedingInPiecesSplitAtEveryOffsetGivesTheSameChecksum() {
        let bytes = testBytes(count: 100, seed: 3)
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            var crc = CRC32C()
            crc.update(Array(bytes[..<split]))
            crc.update(Array(bytes[split...]))
            #expect(crc.value == whole)
        }
    }

    @Test func base64IsOfTheBigEndianBytesAsCloudStorageWritesIt() {
        var crc = CRC32C()
        crc.update(Array("123456789".utf8))
        #expect(crc.base64 == Base64.encode([0xE3, 0x06, 0x92, 0x83]))
        #expect(Base64.encode(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw==")
        #expect(Base64.encode([0xFB, 0xFF], urlSafe: true, padded: false) == "-_8")
    }
}

@Suite struct StatusMappingTests {
    @Test func googlesErrorEnvelopeGivesCodeReasonStatusAndMessage() {
        let body = #"{"error":{"code":404,"message":"Not found: Table p:d.t","errors":[{"reason":"notFound","message":"x"}],"status":"NOT_FOUND"}}"#
        let error = StatusMapping.error(status: 404, body: Array(body.utf8))
        #expect(error == .http(statusCode: 404, reason: "notFound", status: "NOT_FOUND", message: "Not found: Table p:d.t"))
        #expect(error.code == "gcloud_http_404_notFound")
        #expect(!error.isTransient)
    }

    @Test func anEmptyOrForeignBodyStillMapsByStatus() {
        let empty = StatusMapping.error(status: 503, body: [])
        #expect(empty.httpStatus == 503)
        #expect(empty.isTransient)
        let html = StatusMapping.error(status: 502, body: Array("<html>bad gateway</html>".utf8))
        #expect(html.message.contains("bad gateway"))
        #expect(StatusMapping.error(status: 429, body: []).isTransient)
        #expect(StatusMapping.error(status: 408, body: []).isTransient)
        #expect(!StatusMapping.error(status: 412, body: []).isTransient)
        #expect(StatusMapping.error(for: HTTPResponse(status: 204)) == nil)
        #expect(StatusMapping.error(for: HTTPResponse(status: 308), accepted: 200...308) == nil)
    }

    @Test func oauthErrorsAreReadAndNeverEchoTheRequest() {
        let body = #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
        let error = StatusMapping.error(status: 400, body: Array(body.utf8))
        #expect(error == .http(statusCode: 400, reason: "invalid_grant", status: nil, message: "Invalid JWT Signature."))
    }

    @Test func networkFailuresAreTransientAndConfigurationOnesAreNot() {
        #expect(GoogleCloudError.transport(curlCode: 56, message: "reset").isTransient)
        #expect(!GoogleCloudError.configuration("x").isTransient)
        #expect(!GoogleCloudError.checksumMismatch("x").isTransient)
    }
}

@Suite struct RequestShapeTests {
    @Test func objectNamesAreEncodedAsOnePathSegment() {
        #expect(PercentEncoding.encode("uploads/UK 2010+#?%ü.csv") == "uploads%2FUK%202010%2B%23%3F%25%C3%BC.csv")
        #expect(PercentEncoding.encode("A-z_0.9~") == "A-z_0.9~")
    }

    @Test func simpleUploadsAskNeverToOverwriteAndCheckTheStoredChecksums() throws {
        var crc = CRC32C(); crc.update(Array("hello".utf8))
        let md5 = Base64.encode(Array(Insecure.MD5.hash(data: Array("hello".utf8))))
        let stored = #"{"bucket":"b","name":"n","generation":"1","size":"5","crc32c":"\#(crc.base64)","md5Hash":"\#(md5)"}"#
        let fake = FakeHTTPClient([json(200, stored)])
        let client = try StorageClient(endpoint: "http://127.0.0.1:1", project: "p", credentials: AnonymousCredentials(), httpClient: fake)
        _ = try client.upload(bucket: "b", name: "a/b c", contentType: "text/csv", bytes: Array("hello".utf8))
        let request = try #require(fake.requests.first)
        #expect(request.url.contains("ifGenerationMatch=0"))
        #expect(request.url.contains("name=a%2Fb%20c"))

        let wrong = #"{"bucket":"b","name":"n","generation":"1","size":"5","crc32c":"AAAAAA==","md5Hash":"\#(md5)"}"#
        let corrupted = try StorageClient(endpoint: "http://127.0.0.1:1", project: "p", credentials: AnonymousCredentials(),
                                          httpClient: FakeHTTPClient([json(200, wrong)]))
        #expect(throws: GoogleCloudError.checksumMismatch("gs://b/n: stored crc32c AAAAAA==, sent \(crc.base64)")) {
            _ = try corrupted.upload(bucket: "b", name: "n", contentType: "text/plain", bytes: Array("hello".utf8))
        }
    }

    @Test func constantHeadersAndTheTokenAreSentOnEveryRequest() throws {
        struct FixedToken: TokenProvider {
            func authorizationHeader() throws -> String? { "Bearer abc" }
            func invalidate() {}
        }
        let fake = FakeHTTPClient([json(200, "{}")])
        let client = try StorageClient(endpoint: "http://127.0.0.1:1", project: "p", credentials: FixedToken(), httpClient: fake,
                                       extraHeaders: [(name: "x-goog-user-project", value: "billing")])
        try client.checkBucket("b")
        let headers = try #require(fake.requests.first).headers
        #expect(headers.contains { $0.name == "x-goog-user-project" && $0.value == "billing" })
        #expect(headers.contains { $0.name == "Authorization" && $0.value == "Bearer abc" })
    }

    @Test func aChunkSizeThatIsNotAMultipleOf256KiBIsRefused() {
        var settings = StorageSettings()
        settings.chunkSize = 300_000
        #expect(throws: GoogleCloudError.self) {
            _ = try StorageClient(endpoint: "http://127.0.0.1:1", project: "p", credentials: AnonymousCredentials(), settings: settings)
        }
    }

    @Test func jsonWriterEscapesAndSeparates() {
        var w = JSONWriter()
        w.beginObject(); w.field("a", "q\"\\\n\u{01}ü"); w.field("n", Int64(-3)); w.key("l"); w.beginArray()
        w.value(true); w.null(); w.endArray(); w.field("s", nil as String?); w.endObject()
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":"q\"\\\n\u0001ü","n":-3,"l":[true,null],"s":null}"#)
    }
}

@Suite struct CredentialsTests {
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func serviceAccountKey() -> ServiceAccountCredentials.Key {
        .init(clientEmail: "loader@p.iam.gserviceaccount.com", privateKeyPEM: key.pemRepresentation,
              privateKeyID: "kid1", tokenURI: "http://127.0.0.1:1/token")
    }

    static func decodeSegment(_ text: Substring) throws -> [String: Any] {
        var base = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base.count % 4 != 0 { base += "=" }
        let data = try #require(Data(base64Encoded: base))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func theJWTHasRS256HeaderClaimsAndAValidSignature() throws {
        let jwt = try ServiceAccountCredentials.jwt(key: Self.serviceAccountKey(), scopes: ["s1", "s2"], issuedAt: 1_700_000_000)
        let parts = jwt.split(separator: ".")
        #expect(parts.count == 3)
        #expect(!jwt.contains("=") && !jwt.contains("+") && !jwt.contains("/"))
        let header = try Self.decodeSegment(parts[0])
        #expect(header["alg"] as? String == "RS256")
        #expect(header["kid"] as? String == "kid1")
        let claims = try Self.decodeSegment(parts[1])
        #expect(claims["iss"] as? String == "loader@p.iam.gserviceaccount.com")
        #expect(claims["scope"] as? String == "s1 s2")
        #expect(claims["aud"] as? String == "http://127.0.0.1:1/token")
        #expect(claims["exp"] as? Int == 1_700_003_600)
        var signature = String(parts[2]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while signature.count % 4 != 0 { signature += "=" }
        let signatureBytes = try #require(Data(base64Encoded: signature))
        let valid = Self.key.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signatureBytes), for: Array("\(parts[0]).\(parts[1])".utf8),
            padding: .insecurePKCS1v1_5)
        #expect(valid)
    }

    @Test func theTokenIsCachedAndRefreshedFiveMinutesBeforeExpiry() throws {
        final class Clock: Sendable { let seconds = Mutex<Double>(1_000) }
        let clock = Clock()
        let fake = FakeHTTPClient([json(200, #"{"access_token":"t1","expires_in":3600}"#),
                                   json(200, #"{"access_token":"t2","expires_in":3600}"#)])
        let provider = ServiceAccountCredentials.provider(key: Self.serviceAccountKey(), http: fake, now: { clock.seconds.withLock { $0 } })
        #expect(try provider.authorizationHeader() == "Bearer t1")
        clock.seconds.withLock { $0 += 3600 - 301 }
        #expect(try provider.authorizationHeader() == "Bearer t1")
        #expect(fake.requests.count == 1)
        clock.seconds.withLock { $0 += 2 }
        #expect(try provider.authorizationHeader() == "Bearer t2")
        guard case .bytes(let formBytes) = fake.requests[0].body else {
            Issue.record("the token request has no body")
            return
        }
        let form = String(decoding: formBytes, as: UTF8.self)
        #expect(form.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))
    }

    @Test func aRefusedTokenExchangeIsACredentialsErrorWithoutSecrets() throws {
        let fake = FakeHTTPClient([json(400, #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#)])
        let provider = try AuthorizedUserCredentials.provider(
            json: ["client_id": "id", "client_secret": "SECRET-XYZ", "refresh_token": "REFRESH-XYZ"], http: fake)
        do {
            _ = try provider.authorizationHeader()
            Issue.record("expected a failure")
        } catch let error as GoogleCloudError {
            #expect(error.code == "gcloud_credentials")
            #expect(error.message.contains("Invalid JWT Signature"))
            #expect(!error.description.contains("SECRET-XYZ") && !error.description.contains("REFRESH-XYZ"))
        }
    }

    @Test func theMetadataServerIsAskedWithItsFlavorHeader() throws {
        let fake = FakeHTTPClient([json(200, #"{"access_token":"m1","expires_in":100,"token_type":"Bearer"}"#)])
        let provider = MetadataServerCredentials.provider(http: fake, host: "127.0.0.1:8999")
        #expect(try provider.authorizationHeader() == "Bearer m1")
        let request = try #require(fake.requests.first)
        #expect(request.url == "http://127.0.0.1:8999/computeMetadata/v1/instance/service-accounts/default/token")
        #expect(request.headers.contains { $0.name == "Metadata-Flavor" && $0.value == "Google" })
    }

    @Test func applicationDefaultCredentialsReadTheFileNamedByTheEnvironment() throws {
        let path = NSTemporaryDirectory() + "sa-\(UInt32.random(in: 0...UInt32.max)).json"
        let file: [String: Any] = ["type": "service_account", "client_email": "e@x", "private_key": Self.key.pemRepresentation,
                                   "token_uri": "http://127.0.0.1:1/token"]
        try JSONSerialization.data(withJSONObject: file).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fake = FakeHTTPClient([json(200, #"{"access_token":"sa","expires_in":3600}"#)])
        let provider = try ApplicationDefaultCredentials.find(http: fake, environment: ["GOOGLE_APPLICATION_CREDENTIALS": path])
        #expect(try provider.authorizationHeader() == "Bearer sa")
        #expect(fake.requests.first?.url == "http://127.0.0.1:1/token")
        #expect(throws: GoogleCloudError.self) {
            _ = try ApplicationDefaultCredentials.find(http: fake, environment: ["GOOGLE_APPLICATION_CREDENTIALS": path + ".missing"])
        }
    }
}
