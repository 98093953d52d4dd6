import Testing
@testable import GoogleCloud

@Suite(.enabled(if: Emulators.hasStorage, "STORAGE_EMULATOR_HOST is not set: run scripts/emulators.sh start"))
struct StorageEmulatorTests {
    @Test func theDefaultBucketAnswersAndAMissingOneIsNotFound() throws {
        let client = try storageClient()
        try client.checkBucket(Emulators.bucket)
        #expect(throws: GoogleCloudError.self) { try client.checkBucket("no-such-bucket-\(UInt32.random(in: 0...UInt32.max))") }
    }

    @Test func aResumableUploadOfSeveralChunksStoresTheExactBytes() throws {
        let client = try storageClient()
        let name = uniqueName("resumable/sales file ü+#?") + ".csv"
        let bytes = testBytes(count: 3 * 256 * 1024 + 12_345, seed: 1)
        let upload = try client.beginResumableUpload(bucket: Emulators.bucket, name: name, contentType: "text/csv")
        // Uneven writes: chunk boundaries fall inside writes.
        var offset = 0
        for size in [1, 100_000, 300_000, 7, 500_000] where offset < bytes.count {
            let end = min(bytes.count, offset + size)
            try upload.write(Array(bytes[offset..<end]))
            offset = end
        }
        try upload.write(Array(bytes[offset...]))
        let object = try upload.finish()
        #expect(object.sizeBytes == Int64(bytes.count))
        #expect(object.name == name)
        #expect(object.crc32c == { var c = CRC32C(); c.update(bytes); return c.base64 }())
        #expect(md5Hex(try client.downloadAll(bucket: Emulators.bucket, name: name)) == md5Hex(bytes))
        let metadata = try #require(try client.getObject(bucket: Emulators.bucket, name: name))
        #expect(metadata.contentType == "text/csv")
    }

    @Test func aResumableUploadOfExactlyOneChunkAndAnEmptyOneComplete() throws {
        let client = try storageClient()
        for count in [0, 256 * 1024] {
            let name = uniqueName("exact-\(count)")
            let bytes = testBytes(count: count, seed: 2)
            let upload = try client.beginResumableUpload(bucket: Emulators.bucket, name: name, contentType: "application/octet-stream")
            try upload.write(bytes)
            let object = try upload.finish()
            #expect(object.sizeBytes == Int64(count))
            #expect(try client.downloadAll(bucket: Emulators.bucket, name: name) == bytes)
        }
    }

    @Test func aSimpleUploadStoresTheBytesAndTheirChecksums() throws {
        // The emulator ignores ifGenerationMatch, so "never overwrite" is checked on the request (FakeHTTPTests).
        let client = try storageClient()
        let name = uniqueName("simple")
        let object = try client.upload(bucket: Emulators.bucket, name: name, contentType: "text/plain", bytes: Array("first".utf8))
        #expect(object.sizeBytes == 5)
        #expect(try client.downloadAll(bucket: Emulators.bucket, name: name) == Array("first".utf8))
    }

    @Test func aMissingObjectHasNoMetadata() throws {
        let client = try storageClient()
        #expect(try client.getObject(bucket: Emulators.bucket, name: uniqueName("missing")) == nil)
        #expect(throws: GoogleCloudError.self) { _ = try client.download(bucket: Emulators.bucket, name: uniqueName("missing")) }
    }
}
