import Foundation

/// Application Default Credentials: how a client finds its credentials when none are given.
public enum ApplicationDefaultCredentials {
    /// In order: the JSON file named by `GOOGLE_APPLICATION_CREDENTIALS` (`service_account`
    /// or `authorized_user`), gcloud's well-known file, else the metadata server
    /// (`GCE_METADATA_HOST` honoured). Tokens are fetched lazily, on first use.
    public static func find(http: any HTTPClient, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> any TokenProvider
    {
        if let path = environment["GOOGLE_APPLICATION_CREDENTIALS"], !path.isEmpty {
            return try fromFile(path: path, http: http)
        }
        if let home = environment["HOME"] {
            let wellKnown = "\(environment["CLOUDSDK_CONFIG"] ?? "\(home)/.config/gcloud")/application_default_credentials.json"
            if FileManager.default.fileExists(atPath: wellKnown) { return try fromFile(path: wellKnown, http: http) }
        }
        // An empty GCE_METADATA_HOST means unset, as for Google's clients.
        let metadataHost = environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? MetadataServerCredentials.host()
        return MetadataServerCredentials.provider(http: http, host: metadataHost)
    }

    /// Credentials from a JSON key file.
    public static func fromFile(path: String, http: any HTTPClient) throws -> any TokenProvider {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GoogleCloudError.credentials("credentials file \(path) cannot be read")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GoogleCloudError.credentials("credentials file \(path) is not a JSON object")
        }
        let provider: any TokenProvider
        switch json["type"] as? String {
        case "service_account":
            provider = ServiceAccountCredentials.provider(key: try ServiceAccountCredentials.key(from: json), http: http)
        case "authorized_user":
            provider = try AuthorizedUserCredentials.provider(json: json, http: http)
        case let other:
            throw GoogleCloudError.credentials("credentials file \(path) has unsupported type \(other ?? "none")")
        }
        // gcloud writes quota_project_id into user credentials: quota and billing go to that project.
        if let quota = json["quota_project_id"] as? String, !quota.isEmpty {
            return QuotaProjectCredentials(inner: provider, quotaProject: quota)
        }
        return provider
    }
}
