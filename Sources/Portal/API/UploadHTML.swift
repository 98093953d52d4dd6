import ETL

/// The answer to a plain form post from a browser without JavaScript: a small page.
enum UploadHTML {
    static func page(_ outcomes: [UploadOutcome]) -> String {
        var html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Upload result · SalesPortal</title><link rel="stylesheet" href="/app.css"></head>
            <body><main class="page"><h1>Upload result</h1><table class="results"><thead><tr>
            <th scope="col">File</th><th scope="col">Region</th><th scope="col">Status</th><th scope="col">Read</th>
            <th scope="col">Loaded</th><th scope="col">Rejected</th><th scope="col">Duplicates</th><th scope="col">Revenue</th>
            </tr></thead><tbody>
            """
        for outcome in outcomes {
            let record = outcome.record
            let rows = record?.rows ?? RowCounts()
            let status = record?.status.rawValue ?? "rejected"
            let message = record?.errorMessage ?? outcome.errorMessage
            html += "<tr><td>\(escape(outcome.fileName))</td><td>\(escape(record?.region ?? "–"))</td>"
            html += "<td>\(escape(status))\(message.map { "<br><small>\(escape($0))</small>" } ?? "")</td>"
            html += "<td>\(rows.read)</td><td>\(rows.loaded)</td><td>\(rows.rejected)</td><td>\(rows.duplicates)</td>"
            html += "<td>\(escape((record?.revenue ?? .zero).formatted(places: 2))) \(escape(record?.currency ?? ""))</td></tr>"
            for reject in record?.firstRejects ?? [] {
                html += "<tr class=\"reject\"><td colspan=\"8\">line \(reject.line): \(escape(reject.reason)) — \(escape(reject.message))</td></tr>"
            }
        }
        html += "</tbody></table><p><a href=\"/\">Upload more files</a> · <a href=\"/dashboard\">Dashboard</a></p></main></body></html>"
        return html
    }

    /// The answer to a check (`dry_run`): what each file would give and its first rows; nothing
    /// was stored.
    static func checked(_ files: [CheckedFile]) -> String {
        var html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Check result · SalesPortal</title><link rel="stylesheet" href="/app.css"></head>
            <body><main class="page"><h1>Check result</h1>
            <p class="lead">Nothing was stored or loaded: this is what an upload of these files would give.</p>
            """
        for file in files {
            let rows = file.report?.rows ?? RowCounts()
            html += "<section class=\"card\"><h2>\(escape(file.fileName))</h2><dl class=\"facts\">"
            html += "<dt>Region</dt><dd>\(escape(file.region ?? "–"))</dd><dt>Status</dt><dd>\(escape(DryRunJSON.status(of: file)))</dd>"
            html += "<dt>Rows read</dt><dd>\(rows.read)</dd><dt>Would load</dt><dd>\(rows.loaded)</dd>"
            html += "<dt>Rejected</dt><dd>\(rows.rejected)</dd><dt>Duplicates in the file</dt><dd>\(rows.duplicates)</dd>"
            html += "<dt>Revenue</dt><dd>\(escape((file.report?.revenue ?? .zero).formatted(places: 2))) \(escape(file.currency))</dd></dl>"
            if let message = file.errorMessage { html += "<p class=\"error\">\(escape(message))</p>" }
            for reject in file.report?.firstRejects ?? [] {
                html += "<p class=\"note\">line \(reject.line): \(escape(reject.reason)) — \(escape(reject.message))</p>"
            }
            if !file.sample.isEmpty {
                html += """
                    <div class="table-scroll"><table class="rejects-table sample-table"><caption>The first \(file.sample.count) rows as they would be stored</caption><thead><tr>
                    <th scope="col">Line</th><th scope="col">Invoice</th><th scope="col">Stock code</th><th scope="col">Description</th>
                    <th scope="col">Quantity</th><th scope="col">Date</th><th scope="col">Unit price</th><th scope="col">Customer</th>
                    <th scope="col">Country</th></tr></thead><tbody>
                    """
                for row in file.sample {
                    html += "<tr><td>\(row.sourceLine)</td><td>\(escape(row.invoiceNo))</td><td>\(escape(row.stockCode))</td>"
                    html += "<td>\(escape(row.description ?? ""))</td><td>\(row.quantity)</td><td>\(escape(row.invoiceTime.isoDateTime))</td>"
                    html += "<td>\(escape(DryRunJSON.money(row.unitPrice)))</td><td>\(escape(row.customerID ?? ""))</td>"
                    html += "<td>\(escape(row.country))</td></tr>"
                }
                html += "</tbody></table></div>"
            }
            html += "</section>"
        }
        html += "<p><a href=\"/\">Back to the upload form</a> · <a href=\"/dashboard\">Dashboard</a></p></main></body></html>"
        return html
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
