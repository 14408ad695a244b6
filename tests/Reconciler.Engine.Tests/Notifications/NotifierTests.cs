using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Reconciler.Execution;
using Reconciler.Notifications;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Daemon;
using Xunit;

namespace Reconciler.Engine.Tests.Notifications;

public sealed class NotifierTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private static ApplyEvent Event(NotificationEvent kind, string url, params NotificationEvent[] subscribed) =>
        new(kind, Desired.For("production", "0123456789abcdef0123456789abcdef01234567", new NotificationHook(url, [.. subscribed])),
            "daemon@deploy-1", "Dev <dev@example.com>",
            kind == NotificationEvent.Rollback ? "health gate of api failed on web-2 (HTTP 500 x3); rolled back to 1.4.2. Revert 0123456789ab to stop it." : "",
            At);

    [Fact]
    public void Payload_is_slack_compatible()
    {
        var json = Notifier.RenderPayload(Event(NotificationEvent.Rollback, "https://hooks.example.com/x", NotificationEvent.Rollback));
        using var doc = JsonDocument.Parse(json);
        Assert.StartsWith("reconciler: apply of 0123456789ab to production rolled back", doc.RootElement.GetProperty("text").GetString());
        Golden.Match(JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n", "payload-rollback.json");
    }

    [Fact]
    public async Task Posts_only_subscribed_events_and_retries_once_after_a_failure()
    {
        await using var hook = await HookServer.StartAsync(failFirst: 1);
        using var http = new HttpClient();
        var warnings = new StringWriter();
        await using var notifier = new Notifier(http, warnings, retryDelay: TimeSpan.FromMilliseconds(10));

        notifier.OnApplyEvent(Event(NotificationEvent.Start, hook.Url, NotificationEvent.Failure, NotificationEvent.Rollback));   // not subscribed
        notifier.OnApplyEvent(Event(NotificationEvent.Rollback, hook.Url, NotificationEvent.Failure, NotificationEvent.Rollback));
        Assert.Equal(0, await notifier.DrainAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(2, hook.Requests.Count);   // one 500, then the retry succeeded
        Assert.All(hook.Requests, r => Assert.Contains("rolled back", r));
        Assert.Equal("", warnings.ToString());
    }

    [Fact]
    public async Task Posts_to_one_hook_arrive_in_event_order_one_at_a_time()
    {
        // The first post is answered slowly: sent concurrently, the later events would overtake it.
        await using var hook = await HookServer.StartAsync(failFirst: 0, slowFirst: TimeSpan.FromMilliseconds(300));
        using var http = new HttpClient();
        var warnings = new StringWriter();
        await using var notifier = new Notifier(http, warnings, retryDelay: TimeSpan.FromMilliseconds(10));

        NotificationEvent[] all = [NotificationEvent.Start, NotificationEvent.Success, NotificationEvent.Rollback];
        notifier.OnApplyEvent(Event(NotificationEvent.Start, hook.Url, all));
        notifier.OnApplyEvent(Event(NotificationEvent.Success, hook.Url, all));
        notifier.OnApplyEvent(Event(NotificationEvent.Rollback, hook.Url, all));
        Assert.Equal(0, await notifier.DrainAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(["started", "succeeded", "rolled back"],
            hook.Requests.Select(r => JsonDocument.Parse(r).RootElement.GetProperty("text").GetString()!.Split(" production ")[1]));
        Assert.Equal(1, hook.MaxInFlight);
        Assert.Equal("", warnings.ToString());
    }

    [Fact]
    public async Task A_failing_hook_gives_one_warning_without_the_token_and_never_throws()
    {
        await using var hook = await HookServer.StartAsync(failFirst: int.MaxValue);
        using var http = new HttpClient();
        var warnings = new StringWriter();
        var notifier = new Notifier(http, warnings, retryDelay: TimeSpan.FromMilliseconds(10));
        notifier.OnApplyEvent(Event(NotificationEvent.Failure, hook.Url + "/T000/B000/SECRETTOKEN", NotificationEvent.Failure));
        Assert.Equal(0, await notifier.DrainAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(2, hook.Requests.Count);
        var warning = warnings.ToString();
        Assert.Contains("warning: failure notification to http://127.0.0.1:", warning);
        Assert.Contains("HTTP 500", warning);
        Assert.Contains("The deploy is not affected", warning);
        Assert.DoesNotContain("SECRETTOKEN", warning);
    }

    [Fact]
    public async Task A_hook_that_hangs_does_not_block_the_caller_and_times_out()
    {
        var release = new TaskCompletionSource();
        await using var hook = await HookServer.StartAsync(failFirst: 0, hang: release.Task);
        using var http = new HttpClient();
        var warnings = new StringWriter();
        var notifier = new Notifier(http, warnings, attemptTimeout: TimeSpan.FromMilliseconds(200), retryDelay: TimeSpan.FromMilliseconds(10));

        notifier.OnApplyEvent(Event(NotificationEvent.Success, hook.Url, NotificationEvent.Success));
        Assert.Equal(1, notifier.Pending);   // returned at once; the post runs in the background
        Assert.Equal(0, await notifier.DrainAsync(TimeSpan.FromSeconds(10)));
        release.SetResult();
        Assert.Contains("did not answer in time", warnings.ToString());
    }

    [Fact]
    public async Task An_unreachable_hook_is_a_warning()
    {
        using var http = new HttpClient();
        var warnings = new StringWriter();
        var notifier = new Notifier(http, warnings, retryDelay: TimeSpan.FromMilliseconds(10));
        notifier.OnApplyEvent(Event(NotificationEvent.Start, "http://127.0.0.1:1/hook", NotificationEvent.Start));
        Assert.Equal(0, await notifier.DrainAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("warning: start notification to http://127.0.0.1:1/... failed", warnings.ToString());
    }

    /// <summary>A Slack-like receiver on 127.0.0.1 that answers 500 to the first N posts.</summary>
    private sealed class HookServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        public string Url { get; private set; } = "";
        public ConcurrentQueue<string> Requests { get; } = new();
        private int _inFlight;
        public int MaxInFlight { get; private set; }

        private HookServer(WebApplication app) => _app = app;

        public static async Task<HookServer> StartAsync(int failFirst, Task? hang = null, TimeSpan slowFirst = default)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
            var app = builder.Build();
            var server = new HookServer(app);
            var failures = failFirst;
            var served = 0;
            var gate = new Lock();
            app.MapPost("/{**path}", async (HttpContext http) =>
            {
                lock (gate) server.MaxInFlight = Math.Max(server.MaxInFlight, ++server._inFlight);
                try
                {
                    using var reader = new StreamReader(http.Request.Body);
                    server.Requests.Enqueue(await reader.ReadToEndAsync());
                    if (hang is not null) await hang.WaitAsync(http.RequestAborted);
                    if (Interlocked.Increment(ref served) == 1 && slowFirst > TimeSpan.Zero) await Task.Delay(slowFirst, http.RequestAborted);
                    http.Response.StatusCode = Interlocked.Decrement(ref failures) >= 0 ? 500 : 200;
                }
                finally
                {
                    lock (gate) server._inFlight--;
                }
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server.Url = address;
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
