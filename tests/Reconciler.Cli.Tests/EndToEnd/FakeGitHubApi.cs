using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Reconciler.Cli.Tests.EndToEnd;

/// <summary>
/// The part of GitHub's REST API the CI scripts use (issue comments: list with pages, get, create, update, delete), on
/// loopback, holding comments in memory. Requests without the expected token are refused with 401, as GitHub does.
/// Stops itself on dispose.
/// </summary>
internal sealed class FakeGitHubApi : IDisposable
{
    public sealed record Comment(long Id, string Body);

    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly string _repository;
    private readonly string _token;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<long, (int Issue, string Body)> _comments = [];
    private long _nextId = 1000;

    public FakeGitHubApi(string repository, string token)
    {
        (_repository, _token) = (repository, token);
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                Url = $"http://127.0.0.1:{port}";
                break;
            }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; } = "";

    public List<string> Requests { get; } = [];

    public IReadOnlyList<Comment> Comments(int issue)
    {
        lock (_gate) return [.. _comments.Where(c => c.Value.Issue == issue).Select(c => new Comment(c.Key, c.Value.Body))];
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            try { Handle(context); }
            finally { context.Response.Close(); }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = request.Url!.AbsolutePath;
        lock (_gate) Requests.Add($"{request.HttpMethod} {request.Url.PathAndQuery}");
        if (request.Headers["Authorization"] != $"Bearer {_token}")
        {
            Reply(response, 401, new JsonObject { ["message"] = "Bad credentials" });
            return;
        }
        var prefix = $"/repos/{_repository}/issues/";
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            Reply(response, 404, new JsonObject { ["message"] = "Not Found" });
            return;
        }
        var rest = path[prefix.Length..].Split('/');
        lock (_gate)
        {
            switch (request.HttpMethod, rest)
            {
                case ("GET", [var issue, "comments"]):
                    var perPage = int.Parse(request.QueryString["per_page"] ?? "30");
                    var page = int.Parse(request.QueryString["page"] ?? "1");
                    var all = _comments.Where(c => c.Value.Issue == int.Parse(issue)).Skip((page - 1) * perPage).Take(perPage);
                    Reply(response, 200, new JsonArray([.. all.Select(c => (JsonNode)Json(c.Key, c.Value.Body))]));
                    return;
                case ("POST", [var issue, "comments"]):
                    var id = _nextId++;
                    _comments[id] = (int.Parse(issue), BodyOf(request));
                    Reply(response, 201, Json(id, _comments[id].Body));
                    return;
                case ("GET", ["comments", var commentId]) when _comments.TryGetValue(long.Parse(commentId), out var found):
                    Reply(response, 200, Json(long.Parse(commentId), found.Body));
                    return;
                case ("PATCH", ["comments", var commentId]) when _comments.TryGetValue(long.Parse(commentId), out var existing):
                    _comments[long.Parse(commentId)] = (existing.Issue, BodyOf(request));
                    Reply(response, 200, Json(long.Parse(commentId), _comments[long.Parse(commentId)].Body));
                    return;
                case ("DELETE", ["comments", var commentId]) when _comments.Remove(long.Parse(commentId)):
                    response.StatusCode = 204;
                    return;
                default:
                    Reply(response, 404, new JsonObject { ["message"] = "Not Found" });
                    return;
            }
        }
    }

    private static JsonObject Json(long id, string body) => new() { ["id"] = id, ["body"] = body };

    private static string BodyOf(HttpListenerRequest request)
    {
        using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
        return JsonNode.Parse(reader.ReadToEnd())!["body"]!.GetValue<string>();
    }

    private static void Reply(HttpListenerResponse response, int status, JsonNode body)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        response.OutputStream.Write(bytes);
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(10));
    }
}
