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
        // C at the edge, one target per library: Linux calls Glibc's module lacks (epoll, eventfd,
        // accept4, malloc tuning), and typed wrappers for what Swift cannot call in libcurl,
        // SQLite and zlib (variadic functions, macros).
        .target(name: "CSystemLinux"),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // What every module may use: threads and a worker pool, the clock, the JSON writer,
        // gzip, percent-encoding.
        .target(name: "Support", dependencies: ["CZlib"]),
        // Sockets, reactor, HTTP/1.1 and multipart parsing, router, static files.
        .target(name: "HTTPServer", dependencies: ["CSystemLinux", "Support"]),
        // CSV reading, cleaning, transforming; the ObjectStore and Warehouse contracts.
        .target(name: "ETL", dependencies: ["Support"]),
        // libcurl client, credentials, Cloud Storage and BigQuery.
        .target(
            name: "GoogleCloud",
            dependencies: [
                "CCurl", "Support", .product(name: "Crypto", package: "swift-crypto"),
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
        .target(name: "Warehouse", dependencies: ["ETL", "CSQLite", "GoogleCloud", "Support"]),
        // Configuration, object stores, upload handling, reports: where the modules meet.
        .target(
            name: "Portal",
            dependencies: ["HTTPServer", "ETL", "Warehouse", "GoogleCloud", "Access", "Support", "CSystemLinux", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "sales-portal",
            dependencies: ["Portal", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Support"]),
        .testTarget(name: "ETLTests", dependencies: ["ETL"], resources: [.copy("Fixtures")]),
        .testTarget(name: "WarehouseTests", dependencies: ["Warehouse", "ETL", "CSQLite", "Support"]),
        .testTarget(name: "GoogleCloudTests", dependencies: ["GoogleCloud", "CZlib", "Support"]),
        .testTarget(name: "PortalTests", dependencies: ["Portal", "HTTPServer", "ETL", "Warehouse", "Access", "Support"]),
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
