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
