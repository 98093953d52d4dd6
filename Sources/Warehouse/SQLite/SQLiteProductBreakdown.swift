// The breakdown by product over the report tables: every packed line of the matching cells
// is read, so its inner loop works on plain buffers sized from the product dictionary.

import ETL

extension SQLiteWarehouse {
    func productBreakdown(_ connection: SQLiteConnection, _ context: ReportScanContext, limit: Int)
        throws(WarehouseError) -> [ReportGroup] {
        let products = try ProductDictionary(connection)
        let productCount = products.groupOfProduct.count
        let groupCount = products.codes.count
        var revenue = [Int64](repeating: 0, count: productCount)
        var units = [Int64](repeating: 0, count: productCount)
        var used = [Bool](repeating: false, count: productCount)
        var orders = [Int](repeating: 0, count: groupCount)
        var lastCell = [Int](repeating: -1, count: groupCount)
        var multiSeen = Set<Int>()
        let matches = (0..<productCount).map { product in
            context.productMatches.map { product < $0.count && $0[product] } ?? true
        }
        let groupOf = products.groupOfProduct.map { Int32(truncatingIfNeeded: $0) }
        var serial = 0
        try revenue.withUnsafeMutableBufferPointer { revenue throws(WarehouseError) in
            try units.withUnsafeMutableBufferPointer { units throws(WarehouseError) in
                try used.withUnsafeMutableBufferPointer { used throws(WarehouseError) in
                    try orders.withUnsafeMutableBufferPointer { orders throws(WarehouseError) in
                        try lastCell.withUnsafeMutableBufferPointer { lastCell throws(WarehouseError) in
                            try matches.withUnsafeBufferPointer { matches throws(WarehouseError) in
                                try groupOf.withUnsafeBufferPointer { groupOf throws(WarehouseError) in
                                    try scanCells(connection, context, decodeLines: true) { cell in
                                        serial += 1
                                        let countsOrders = !cell.cancellation
                                        let multi = countsOrders && context.isMulti(cell.invoiceRef)
                                        var packed = cell.packedLines
                                        while let line = packed.next() {
                                            let product = line.product
                                            // A product numbered after the dictionary was read is in no answer.
                                            guard product < productCount, matches[product] else { continue }
                                            used[product] = true
                                            if line.isProduct {
                                                revenue[product] &+= line.revenue
                                                units[product] &+= line.quantity
                                            }
                                            guard countsOrders else { continue }
                                            let group = Int(groupOf[product])
                                            if lastCell[group] == serial { continue }
                                            lastCell[group] = serial
                                            if multi, !multiSeen.insert(cell.invoiceRef << 24 | group).inserted { continue }
                                            orders[group] += 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var groupRevenue = [Int64](repeating: 0, count: groupCount)
        var groupUnits = [Int64](repeating: 0, count: groupCount)
        var present = [Bool](repeating: false, count: groupCount)
        var labels = [String?](repeating: nil, count: groupCount)
        for product in 0..<productCount where used[product] {
            let group = products.groupOfProduct[product]
            present[group] = true
            groupRevenue[group] &+= revenue[product]
            groupUnits[group] &+= units[product]
            if let description = products.descriptions[product], labels[group].map({ binaryOrder($0, description) }) ?? true {
                labels[group] = description
            }
        }
        let chosen = Self.top((0..<groupCount).filter { present[$0] }, revenue: groupRevenue, keys: products.codes, limit: limit)
        return chosen.map {
            ReportGroup(key: products.codes[$0], label: labels[$0],
                        figures: ReportFigures(revenue: ExactDecimal(micros: groupRevenue[$0]), orders: orders[$0], units: groupUnits[$0]))
        }
    }
}
