import Synchronization
@testable import GoogleCloud

/// An HTTPClient that answers from a script and records what it was sent.
final class FakeHTTPClient: HTTPClient {
    private struct State {
        var answers: [Result<HTTPResponse, GoogleCloudError>] = []
        var requests: [HTTPRequest] = []
    }
    private let state = Mutex(State())

    init(_ answers: [Result<HTTPResponse, GoogleCloudError>] = []) {
        state.withLock { $0.answers = answers }
    }

    func enqueue(_ answer: Result<HTTPResponse, GoogleCloudError>) { state.withLock { $0.answers.append(answer) } }
    var requests: [HTTPRequest] { state.withLock { $0.requests } }

    func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        let answer = state.withLock { state -> Result<HTTPResponse, GoogleCloudError>? in
            state.requests.append(request)
            return state.answers.isEmpty ? nil : state.answers.removeFirst()
        }
        guard let answer else { throw GoogleCloudError.transport(curlCode: 7, message: "no scripted answer") }
        return try answer.get()
    }
}

func json(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> Result<HTTPResponse, GoogleCloudError> {
    .success(HTTPResponse(status: status, headers: headers, body: Array(text.utf8)))
}
