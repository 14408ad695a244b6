using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;

namespace Reconciler.Notifications;

/// <summary>
/// Posts Slack-compatible JSON (<c>{"text": ..., "attachments": [...]}</c>) to the hooks of reconciler.yaml for the
/// events they subscribe to. Sending happens on background tasks: <see cref="OnApplyEvent"/> returns at once, each
/// attempt has a timeout and is retried once (Polly), and every failure is a warning only. A deploy is never blocked
/// or failed by a notification. Posts to one hook are sent one after another, in event order, so a receiver never
/// reads "succeeded" before "started" or one apply's outcome after the next apply's start; different hooks do not
/// wait for each other. <see cref="DrainAsync"/> gives pending posts a bounded time at shutdown.
/// </summary>
public sealed class Notifier : IApplyObserver, IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly TextWriter _warnings;
    private readonly ResiliencePipeline _pipeline;
    private readonly ConcurrentDictionary<int, Task> _pending = new();
    private readonly Dictionary<string, Task> _lastPostByHook = new(StringComparer.Ordinal);
    private readonly Lock _orderLock = new();
    private int _nextId;

    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromSeconds(5);

    /// <param name="http">Shared client; the notifier does not dispose it.</param>
    /// <param name="warnings">Where failures are reported ("warning: ..."); written from background tasks.</param>
    /// <param name="attemptTimeout">Per attempt (default 5 s); two attempts at most.</param>
    /// <param name="retryDelay">Pause before the single retry (default 1 s).</param>
    public Notifier(HttpClient http, TextWriter warnings, TimeSpan? attemptTimeout = null, TimeSpan? retryDelay = null, TimeProvider? time = null)
    {
        _http = http;
        _warnings = TextWriter.Synchronized(warnings);
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 1,
                Delay = retryDelay ?? TimeSpan.FromSeconds(1),
                BackoffType = DelayBackoffType.Constant,
                ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>().Handle<TimeoutRejectedException>()
                    .Handle<NotificationRejectedException>(),
            })
            .AddTimeout(attemptTimeout ?? DefaultAttemptTimeout)
            .Build();
    }

    /// <summary>Number of posts still in flight (for tests and shutdown messages).</summary>
    public int Pending => _pending.Values.Count(t => !t.IsCompleted);

    public void OnApplyEvent(ApplyEvent applyEvent)
    {
        try
        {
            var hooks = applyEvent.Desired.Repository.Notifications.Where(h => h.Events.Contains(applyEvent.Kind)).ToList();
            if (hooks.Count == 0) return;
            var payload = RenderPayload(applyEvent);
            foreach (var hook in hooks)
            {
                var id = Interlocked.Increment(ref _nextId);
                Task task;
                lock (_orderLock)
                {
                    // SendAsync never faults (every failure is a warning), so awaiting the previous post is safe.
                    var previous = _lastPostByHook.GetValueOrDefault(hook.Url, Task.CompletedTask);
                    task = Task.Run(async () =>
                    {
                        await previous;
                        await SendAsync(hook, applyEvent.Kind, payload);
                    });
                    _lastPostByHook[hook.Url] = task;
                }
                _pending[id] = task;
                task.ContinueWith(_ => _pending.TryRemove(id, out Task? _), TaskScheduler.Default);
            }
        }
        catch (Exception e)
        {
            // Never let a notification problem reach the deploy.
            _warnings.WriteLine($"warning: notification not sent: {e.Message}");
        }
    }

    private async Task SendAsync(NotificationHook hook, NotificationEvent kind, string payload)
    {
        var where = DescribeHook(hook.Url);
        try
        {
            await _pipeline.ExecuteAsync(async ct =>
            {
                using var content = new StringContent(payload, Encoding.UTF8);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                using var response = await _http.PostAsync(hook.Url, content, ct);
                if (!response.IsSuccessStatusCode)
                    throw new NotificationRejectedException((int)response.StatusCode);
            }, CancellationToken.None);
        }
        catch (Exception e)
        {
            var why = e switch
            {
                NotificationRejectedException r => $"the hook answered HTTP {r.StatusCode}",
                TimeoutRejectedException => "the hook did not answer in time",
                HttpRequestException h => h.Message,
                _ => e.Message,
            };
            _warnings.WriteLine($"warning: {kind.ToString().ToLowerInvariant()} notification to {where} failed after a retry: {why}. The deploy is not affected.");
        }
    }

    /// <summary>Waits for pending posts, at most <paramref name="maxWait"/>; returns how many were still pending.</summary>
    public async Task<int> DrainAsync(TimeSpan maxWait)
    {
        var pending = _pending.Values.ToArray();
        if (pending.Length == 0) return 0;
        await Task.WhenAny(Task.WhenAll(pending), Task.Delay(maxWait));
        return Pending;
    }

    public async ValueTask DisposeAsync() => await DrainAsync(TimeSpan.FromSeconds(5));

    /// <summary>Hook URLs often carry a token in the path (Slack): messages show scheme and host only.</summary>
    internal static string DescribeHook(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) ? $"{u.Scheme}://{u.Authority}/..." : "(invalid hook URL)";

    /// <summary>The Slack-compatible body: a one-line <c>text</c> (what every receiver shows) plus one attachment
    /// with a colour and the outcome paragraph.</summary>
    public static string RenderPayload(ApplyEvent e)
    {
        var commit = e.Desired.Revision.Length > 12 ? e.Desired.Revision[..12] : e.Desired.Revision;
        var (verb, color) = e.Kind switch
        {
            NotificationEvent.Start => ("started", "#439FE0"),
            NotificationEvent.Success => ("succeeded", "good"),
            NotificationEvent.Failure => ("FAILED", "danger"),
            NotificationEvent.Rollback => ("rolled back", "warning"),
            _ => (e.Kind.ToString(), "#999999"),
        };
        var text = $"reconciler: apply of {commit} to {e.Desired.Environment} {verb}";
        var details = new StringBuilder();
        details.Append("by ").Append(e.AppliedBy);
        if (e.CommitAuthor is { Length: > 0 } author) details.Append(", commit by ").Append(author);
        if (e.Plan is { } plan)
        {
            var changed = plan.Services.Where(s => s.Action != ServiceAction.NoOp).Select(s => $"{s.Service} ({s.Reason})").ToList();
            if (changed.Count > 0)
                details.Append('\n').Append("changes: ").Append(string.Join(", ", changed.Take(10)))
                    .Append(changed.Count > 10 ? $" and {changed.Count - 10} more" : "");
        }
        if (e.Message.Length > 0) details.Append('\n').Append(e.Message);

        var body = new JsonObject
        {
            ["text"] = text,
            ["attachments"] = new JsonArray(new JsonObject
            {
                ["color"] = color,
                ["text"] = details.ToString(),
                ["footer"] = $"{e.Desired.Environment} @ {e.Desired.Revision}",
                ["ts"] = e.At.ToUnixTimeSeconds(),
            }),
        };
        return body.ToJsonString(PayloadJson);
    }

    // Readable '<', '>' and '&' (author e-mails): the receiver parses JSON, it does not embed it in HTML.
    private static readonly JsonSerializerOptions PayloadJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed class NotificationRejectedException(int statusCode) : Exception($"HTTP {statusCode}")
    {
        public int StatusCode { get; } = statusCode;
    }
}
