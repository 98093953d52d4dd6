// The users file decoding on arbitrary JSON. Invariants: decoding throws or gives a file that
// encodes and decodes to itself; name lookups find every account by its own name.
import Foundation
@testable import Access

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUsersFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let json = Data(bytes: data, count: size)
    guard let file = try? JSONDecoder().decode(UsersFile.self, from: json) else { return 0 }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    guard let written = try? encoder.encode(file) else { violated("a decoded users file does not encode") }
    guard let again = try? JSONDecoder().decode(UsersFile.self, from: written) else {
        violated("an encoded users file does not decode: \(String(decoding: written, as: UTF8.self))")
    }
    if again != file { violated("the users file changes through encoding") }
    for account in file.users {
        guard let found = file.account(named: account.name) else { violated("account \(account.name) not found by name") }
        if found.name.lowercased() != account.name.lowercased() { violated("lookup by name found another name") }
        _ = account.scope
        _ = try? UsersFile.validateName(account.name)
    }
    return 0
}
