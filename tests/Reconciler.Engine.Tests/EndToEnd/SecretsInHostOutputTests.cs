using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Reconciler.Daemon;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Telemetry;
using Xunit;

namespace Reconciler.Engine.Tests.EndToEnd;

/// <summary>
/// Finding 6 of issue 11 on real sshd: a restart command or a command check that prints the release's config (secrets
/// included, as config.json, .env and base64) fails the apply; no secret value reaches the outcome message, history,
/// quarantine reason, journal (nor anything else in the store file), status JSON, notifications, progress or traces,
/// and the output shown is bounded.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class SecretsInHostOutputTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IAsyncLifetime
{
    private const string Mask = "[redacted]";
    private readonly FleetWorld _world = new(fixture.Fleet);
    private readonly string _password = "hunter2-Sup3r/Secret+Value-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _token = "to\"ken'with quotes & spaces-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<string> _traced = [];
    private ActivityListener? _listener;

    public Task InitializeAsync()
    {
        _world.Secrets["E2E_DB_PASSWORD"] = _password;
        _world.Secrets["E2E_API_TOKEN"] = _token;
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ReconcilerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (_traced) _traced.Add(a.StatusDescription + " " + string.Join(" ", a.TagObjects.Select(t => t.Value)));
            },
        };
        ActivitySource.AddActivityListener(_listener);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _listener?.Dispose();
        await _world.DisposeAsync();
    }

    private ImmutableSortedDictionary<string, ConfigValue> Config => ImmutableSortedDictionary<string, ConfigValue>.Empty
        .Add("DB_PASSWORD", new ConfigValue.Secret("env:E2E_DB_PASSWORD"))
        .Add("API_TOKEN", new ConfigValue.Secret("env:E2E_API_TOKEN"))
        .Add("LOG_LEVEL", new ConfigValue.Literal("info"));

    // Prints the config in every form a careless app would, plus 20 KB of noise, then fails.
    private const string LeakyScript = "cat config.json; cat .env; base64 -w0 config.json; echo; base64 -w0 .env; echo; " +
                                       "head -c 20000 /dev/zero | tr '\\0' x; echo; cat config.json; exit 1";

    [Fact]
    public async Task A_restart_command_that_prints_the_config_leaks_no_secret_anywhere()
    {
        var commit = "c2-" + Guid.NewGuid().ToString("N")[..8];
        await _world.SucceedsAsync(_world.Desired("c1", _world.Service("api", "1.0.0", config: Config)));
        var leaky = _world.Service("api", "1.1.0", config: Config, restart: "#!/bin/sh\n" + LeakyScript + "\n");

        var outcome = await _world.ApplyAsync(_world.Desired(commit, leaky));

        Assert.Equal(ApplyResult.RolledBack, outcome.Result);
        Assert.True(outcome.Message.Contains("restart command exited 1", StringComparison.Ordinal), outcome.Message);
        Assert.Contains(Mask, outcome.Message);     // the output is there, cleaned
        Assert.True(outcome.Message.Contains("bytes cut", StringComparison.Ordinal), outcome.Message);   // and bounded
        await AssertNothingLeakedAsync(outcome, commit);
    }

    [Fact]
    public async Task A_command_check_that_prints_the_config_leaks_no_secret_anywhere()
    {
        var commit = "c2-" + Guid.NewGuid().ToString("N")[..8];
        await _world.SucceedsAsync(_world.Desired("c1", _world.Service("api", "1.0.0", config: Config)));
        // Only the new (bad) release fails the check, so that the rollback's gate of the old one passes.
        var check = new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null,
            "cd ${release.path} && { grep -qx ok health || { " + LeakyScript + "; }; }", null, TimeSpan.FromSeconds(10));
        var leaky = _world.Service("api", "1.1.0", healthy: false, config: Config, health: FleetWorld.FastHealth with { Checks = [check], Deadline = TimeSpan.FromSeconds(2) });

        var outcome = await _world.ApplyAsync(_world.Desired(commit, leaky));

        Assert.Equal(ApplyResult.RolledBack, outcome.Result);
        Assert.Contains("command exited 1", outcome.Message);
        Assert.Contains(Mask, outcome.Message);
        await AssertNothingLeakedAsync(outcome, commit);
    }

    private async Task AssertNothingLeakedAsync(ReconcileOutcome outcome, string commit)
    {
        var store = _world.Store;
        var history = await store.ReadHistoryAsync(FleetWorld.Env, 10, default);
        var quarantine = await store.ReadQuarantineAsync(FleetWorld.Env, default);
        Assert.Contains(quarantine, q => q.Commit == commit);
        var status = StatusReports.Build(null, await store.ReadAsync(FleetWorld.Env, default), history, quarantine, null, null);
        var texts = new List<(string Where, string Text)>
        {
            ("outcome", outcome.Message),
            ("history", string.Join("\n", history.Select(h => h.Message))),
            ("quarantine", string.Join("\n", quarantine.Select(q => q.Reason))),
            ("status json", JsonSerializer.Serialize(status, ReconcilerJson.Options)),
            ("progress", string.Join("\n", _world.Progress.Select(p => p.Status))),
            ("notifications", string.Join("\n", _world.Events.Select(e => e.Message))),
        };
        lock (_traced) texts.Add(("traces", string.Join("\n", _traced)));
        Assert.True(outcome.Message.Length < 3 * 4096, $"outcome message is {outcome.Message.Length} chars");

        // Everything the store wrote, journal included: the database files themselves.
        await _world.CloseStoreAsync();
        var stored = string.Concat(Directory.GetFiles(_world.Combine(), "state.db*").Select(f => Encoding.UTF8.GetString(File.ReadAllBytes(f))));
        texts.Add(("store file", stored));

        foreach (var (where, text) in texts)
            foreach (var form in Forms())
            {
                Assert.False(text.Contains(form, StringComparison.Ordinal), $"{where} contains a secret ({form}):\n{text[..Math.Min(text.Length, 3000)]}");
                Assert.False(DecodedBase64Runs(text).Any(decoded => decoded.Contains(form, StringComparison.Ordinal)),
                    $"{where} contains a secret base64-encoded ({form}):\n{text[..Math.Min(text.Length, 3000)]}");
            }
    }

    /// <summary>What must never appear: each value as it is, as config.json holds it and as .env holds it.</summary>
    private IEnumerable<string> Forms()
    {
        foreach (var value in new[] { _password, _token })
        {
            yield return value;
            yield return JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;
            yield return "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        }
        yield return "hunter2-Sup3r";
    }

    /// <summary>Every run of base64 characters in the text, decoded at each of its four alignments.</summary>
    private static IEnumerable<string> DecodedBase64Runs(string text)
    {
        foreach (System.Text.RegularExpressions.Match run in System.Text.RegularExpressions.Regex.Matches(text, "[A-Za-z0-9+/]{12,}"))
            for (var skip = 0; skip < 4; skip++)
            {
                var chars = run.Value[skip..];
                chars = chars[..(chars.Length / 4 * 4)];
                var bytes = new byte[chars.Length];
                if (Convert.TryFromBase64String(chars, bytes, out var written)) yield return Encoding.UTF8.GetString(bytes, 0, written);
            }
    }
}
