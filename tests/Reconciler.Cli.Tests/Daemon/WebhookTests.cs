using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Reconciler.Daemon;
using Xunit;

namespace Reconciler.Cli.Tests.Daemon;

public sealed class WebhookTests : IAsyncLifetime
{
    private const string Secret = "s3cret-for-tests";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly FakeFollower _follower = new("aaaa1111");
    private readonly FakeReconciler _reconciler = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private GitOpsDaemon _daemon = null!;
    private Task _loop = null!;
    private DaemonHttp _server = null!;

    public async Task InitializeAsync()
    {
        // One-hour interval on fake time: only the webhook can make the loop fetch again.
        _daemon = new GitOpsDaemon(new DaemonOptions("prod", TimeSpan.FromHours(1), "daemon@test"), _follower, new FakeLoader(),
            _reconciler, new Reconciler.Engine.Tests.Execution.InMemoryStateStore(_time), _time, TextWriter.Null);
        _loop = _daemon.RunAsync(_stop.Token);
        _server = await DaemonHttp.StartAsync(DaemonHttp.ParseListen("127.0.0.1:0"), _daemon, Secret, CancellationToken.None);
        await Wait.Until(() => _reconciler.Results.Count == 1, "first apply");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _stop.CancelAsync();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task<HttpResponseMessage> PostHook(byte[] body, string? signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server.Address, "/hooks/git")) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (signature is not null) request.Headers.TryAddWithoutValidation(DaemonHttp.SignatureHeader, signature);
        return await _http.SendAsync(request);
    }

    [Fact]
    public async Task A_validly_signed_push_triggers_a_fetch_at_once()
    {
        var body = Encoding.UTF8.GetBytes("""{"ref":"refs/heads/main","after":"bbbb2222"}""");
        var fetches = _follower.Fetches;
        _follower.MoveTo("bbbb2222");
        using var response = await PostHook(body, DaemonHttp.Sign(Secret, body));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Wait.Until(() => _reconciler.Results.Count == 2, "apply of the pushed commit");
        Assert.True(_follower.Fetches > fetches);
    }

    [Theory]
    [InlineData(null)]                                   // missing
    [InlineData("sha256=00")]                            // wrong
    [InlineData("sha1=0123456789abcdef")]                // wrong algorithm
    [InlineData("sha256=not-hex")]
    public async Task A_missing_or_invalid_signature_is_rejected_and_triggers_nothing(string? signature)
    {
        var body = Encoding.UTF8.GetBytes("""{"ref":"refs/heads/main"}""");
        var fetches = _follower.Fetches;
        using var response = await PostHook(body, signature);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(fetches, _follower.Fetches);
    }

    [Fact]
    public async Task A_signature_for_another_body_is_rejected()
    {
        var signed = Encoding.UTF8.GetBytes("""{"ref":"refs/heads/main"}""");
        var sent = Encoding.UTF8.GetBytes("""{"ref":"refs/heads/evil"}""");
        using var response = await PostHook(sent, DaemonHttp.Sign(Secret, signed));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task An_oversized_body_is_refused()
    {
        var body = new byte[DaemonHttp.MaxBodyBytes + 1];
        using var response = await PostHook(body, DaemonHttp.Sign(Secret, body));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Healthz_and_status_answer()
    {
        using var health = await _http.GetAsync(new Uri(_server.Address, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var status = await _http.GetAsync(new Uri(_server.Address, "/status"));
        Assert.True(status.IsSuccessStatusCode, $"{status.StatusCode}: {await status.Content.ReadAsStringAsync()}");
        Assert.Equal("application/json", status.Content.Headers.ContentType?.MediaType);
        var json = await status.Content.ReadAsStringAsync();
        Assert.Contains("\"lastResult\"", json);
        Assert.Contains("\"commit\": \"aaaa1111\"", json);
    }

    [Fact]
    public async Task Without_a_secret_webhooks_are_disabled()
    {
        await using var open = await DaemonHttp.StartAsync(DaemonHttp.ParseListen("127.0.0.1:0"), _daemon, null, CancellationToken.None);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(open.Address, "/hooks/git")) { Content = new ByteArrayContent([]) };
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("RECONCILER_WEBHOOK_SECRET", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("localhost:80")]
    [InlineData("127.0.0.1")]
    [InlineData("nonsense")]
    public void Listen_addresses_must_be_ip_and_port(string text)
    {
        var e = Assert.Throws<Reconciler.Cli.UserError>(() => DaemonHttp.ParseListen(text));
        Assert.Contains("--listen", e.Message);
    }
}
