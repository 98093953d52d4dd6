// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "sales-portal",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sales-portal", targets: ["sales-portal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C at the edge: epoll/eventfd/accept4 declarations, and typed wrappers for libcurl, SQLite and zlib.
        .target(name: "CSystemLinux"),
        .target(
            name: "CNative",
            linkerSettings: [.linkedLibrary("curl"), .linkedLibrary("sqlite3"), .linkedLibrary("z")]
        ),
        // Sockets, reactor, HTTP/1.1 and multipart parsing, router, static files.
        .target(name: "HTTPServer", dependencies: ["CSystemLinux", "CNative"]),
        // CSV reading, cleaning, transforming; the ObjectStore and Warehouse contracts. Pure Swift.
        .target(name: "ETL"),
        // libcurl client, credentials, Cloud Storage and BigQuery.
        .target(
            name: "GoogleCloud",
            dependencies: [
                "CNative", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Identities and what they may do: users file, password and token hashes, session
        // cookies, IAP assertions, sign-in throttling. Pure Swift on swift-crypto.
        .target(
            name: "Access",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // SQLite (embedded) and BigQuery warehouses behind the ETL contract.
        .target(name: "Warehouse", dependencies: ["ETL", "CNative", "GoogleCloud"]),
        // Configuration, object stores, upload handling, reports: where the modules meet.
        .target(
            name: "Portal",
            dependencies: ["HTTPServer", "ETL", "Warehouse", "GoogleCloud", "Access", "CNative", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "sales-portal",
            dependencies: ["Portal", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "ETLTests", dependencies: ["ETL"], resources: [.copy("Fixtures")]),
        .testTarget(name: "WarehouseTests", dependencies: ["Warehouse", "ETL"]),
        .testTarget(name: "GoogleCloudTests", dependencies: ["GoogleCloud"]),
        .testTarget(name: "PortalTests", dependencies: ["Portal", "HTTPServer", "ETL", "Warehouse", "Access"]),
        .testTarget(
            name: "AccessTests",
            dependencies: [
                "Access", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
