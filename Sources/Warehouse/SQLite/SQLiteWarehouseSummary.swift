// The report numbers over the report tables, with the filters of `ReportFilter`.

import ETL

extension SQLiteWarehouse {
    /// The report numbers over the visible rows matching the filter. Region and country compare
    /// case-insensitively (ASCII); product matches the stock code case-insensitively or
    /// text inside the description (ASCII case folding); days are inclusive.
    public func summary(_ filter: ReportFilter) throws -> ReportSummary {
        try withReader { connection throws(WarehouseError) in
            let context = try ReportScanContext(connection, filter: filter)
            var revenue: Int64 = 0
            var units: Int64 = 0
            var orders = BitSet(limit: context.invoiceLimit)
            var cancellations = BitSet(limit: context.invoiceLimit)
            var customers = BitSet(limit: context.customerLimit)
            try scanCells(connection, context, decodeLines: false) { cell in
                revenue &+= cell.revenueMicros
                units &+= cell.units
                if cell.cancellation {
                    cancellations.insert(cell.invoiceRef)
                } else {
                    orders.insert(cell.invoiceRef)
                }
                if cell.customerRef != 0 { customers.insert(cell.customerRef) }
            }
            return ReportSummary(revenue: ExactDecimal(micros: revenue), orders: orders.count,
                                 cancellations: cancellations.count, units: units, customers: customers.count)
        }
    }
}
