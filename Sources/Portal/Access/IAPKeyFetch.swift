import GoogleCloud

/// Reads Google's IAP signing keys over HTTPS with the libcurl client.
enum IAPKeyFetch {
    static func fetch(_ url: String) throws -> [UInt8] {
        let response = try CurlHTTPClient().perform(HTTPRequest(method: "GET", url: url))
        guard response.status == 200 else { throw ConfigError.invalid("HTTP \(response.status) from \(url)") }
        return response.body
    }
}
