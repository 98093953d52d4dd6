// Which field of a record holds which column.

/// The columns of a sales file.
enum Column: Int, CaseIterable {
    case invoiceNo, stockCode, description, quantity, invoiceDate, unitPrice, customerID, country

    /// The spelling of the seed files' header.
    var canonicalName: String {
        switch self {
        case .invoiceNo: "InvoiceNo"
        case .stockCode: "StockCode"
        case .description: "Description"
        case .quantity: "Quantity"
        case .invoiceDate: "InvoiceDate"
        case .unitPrice: "UnitPrice"
        case .customerID: "CustomerID"
        case .country: "Country"
        }
    }

    /// The name folded for matching: lower case, no `_`, `-`, spaces or tabs.
    var matchKey: String { canonicalName.lowercased() }
}

/// The header of a file, matched to the columns.
///
/// All eight columns are required: `InvoiceNo, StockCode, Description, Quantity, InvoiceDate,
/// UnitPrice, CustomerID, Country`. A file without one of them is rejected as a whole, naming
/// the missing ones, and nothing is loaded. Names match whatever their case, surrounding
/// spaces, underscores, hyphens or inner spaces (`invoice_no`, `Invoice No`, ` INVOICENO `), in
/// any order. Other columns are ignored and listed in `extraColumns`.
struct HeaderMap {
    /// For each `Column` (by raw value), the index of its field.
    let fieldIndex: [Int]
    /// How many fields every record must have.
    let fieldCount: Int
    /// The header's names as written (trimmed), for the rejects CSV.
    let names: [String]
    /// Names of the columns that are not ours, in file order (unnamed ones, as a trailing
    /// comma makes, are not listed; their fields are still expected).
    let extraColumns: [String]

    static let requiredColumnList = Column.allCases.map(\.canonicalName).joined(separator: ", ")

    init(names rawNames: [String]) throws(ETLError) {
        let names = rawNames.map { Self.trim($0) }
        var index = [Int](repeating: -1, count: Column.allCases.count)
        var extra: [String] = []
        for (position, name) in names.enumerated() {
            let key = Self.matchKey(name)
            if let column = Column.allCases.first(where: { $0.matchKey == key }) {
                guard index[column.rawValue] < 0 else { throw .duplicateColumn(column.canonicalName) }
                index[column.rawValue] = position
            } else if !name.isEmpty {
                extra.append(name)
            }
        }
        let missing = Column.allCases.filter { index[$0.rawValue] < 0 }.map(\.canonicalName)
        guard missing.isEmpty else { throw .missingColumns(missing, found: names) }
        fieldIndex = index
        fieldCount = names.count
        self.names = names
        extraColumns = extra
    }

    static func matchKey(_ name: String) -> String {
        String(String.UnicodeScalarView(name.lowercased().unicodeScalars.filter {
            $0 != "_" && $0 != "-" && $0 != " " && $0 != "\t"
        }))
    }

    private static func trim(_ name: String) -> String {
        var scalars = Substring(name).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
