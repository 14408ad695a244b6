using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Reconciler.Consul;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.ConsulKv;

public sealed record ConsulKvDriverOptions
{
    public required ConsulClient Consul { get; init; }

    /// <summary>The environment being applied: app-facing keys are config/ENV/SVC/KEY and toggles/ENV/NAME.</summary>
    public required string Environment { get; init; }

    /// <summary>Where the driver keeps staged releases: PREFIX/ENV/kv-releases/DEPLOYPATH/ID (the state store's prefix).</summary>
    public string Prefix { get; init; } = "reconciler";
}

/// <summary>
/// The consul-kv driver: publishes a service's config as Consul keys config/ENV/SVC/KEY (one value per key, as
/// consul-template's `key` and `tree` read them) and toggles as toggles/ENV/NAME ("true"/"false").
/// It fits IHostDriver like this: every host of the group gets a session, but they all share one set of keys, so
/// the work is done once per (deploy path, release) and repeated calls are no-ops.
/// <list type="bullet">
/// <item>Stage writes the release's whole config as one JSON value at PREFIX/ENV/kv-releases/DEPLOYPATH/ID (the
/// deploy path identifies the service's slot, as on a host). ID is the release id in Consul's strict key charset
/// (<see cref="ConsulKeys.EncodeSegment"/>: a '+' would get a 500 from some Consul versions).</item>
/// <item>Activate writes the app-facing keys and the pointer PREFIX/ENV/kv-releases/DEPLOYPATH/current in /v1/txn
/// transactions: one (atomic) when the change fits Consul's limits (64 operations, txn_max_req_len), otherwise in
/// chunks with the pointer last. Keys of the previous release that the new one lacks are deleted one by one, never by prefix.</item>
/// <item>No commands run: restart/stop commands and command checks do not apply (apps watch Consul instead).</item>
/// </list>
/// </summary>
public sealed class ConsulKvDriver(ConsulKvDriverOptions options) : IHostDriver
{
    private readonly ConcurrentDictionary<string, ConsulKvSession> _sessions = new(StringComparer.Ordinal);
    // Lazy: GetOrAdd and AddOrUpdate may run a factory more than once when hosts call at the same time; only the
    // stored Lazy is ever started, so the work is done once.
    private readonly ConcurrentDictionary<(string Path, string Id), Lazy<Task>> _staged = new();
    private readonly ConcurrentDictionary<string, (string Id, Lazy<Task> Work)> _activated = new(StringComparer.Ordinal);
    private long _writes;

    public DriverKind Kind => DriverKind.ConsulKv;

    public ConsulKvDriverOptions Options { get; } = options;

    /// <summary>Transactions and single writes sent so far (tests assert that N hosts cost one write).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    public Task<IHostSession> OpenAsync(HostSpec host, CancellationToken ct) =>
        Task.FromResult<IHostSession>(_sessions.GetOrAdd(host.Name, _ => new ConsulKvSession(this, host)));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    internal string ReleasesPath(string deployPath) => $"{Options.Prefix.Trim('/')}/{Options.Environment}/kv-releases{deployPath}";

    internal string ReleaseKey(string deployPath, string releaseId) => $"{ReleasesPath(deployPath)}/{ConsulKeys.EncodeSegment(releaseId)}";

    /// <summary>The release id a staged key names; null for keys that are not staged releases.</summary>
    private string? ReleaseIdOf(string deployPath, string key) =>
        key.StartsWith(ReleasesPath(deployPath) + "/", StringComparison.Ordinal) && ConsulKeys.DecodeSegment(key[(ReleasesPath(deployPath).Length + 1)..]) is { } id
        && ReleaseLayout.IsValidReleaseId(id) ? id : null;

    internal Task StageOnceAsync(HostSpec host, ReleaseBundle bundle, CancellationToken ct)
    {
        var key = (bundle.DeployPath, bundle.ReleaseId);
        var work = _staged.GetOrAdd(key, _ => new Lazy<Task>(() => StageAsync(host, bundle, ct)));
        return work.Value.ContinueWith(t =>
        {
            // A failed attempt must not be remembered: the next call tries again (this attempt only, not a newer one).
            if (!t.IsCompletedSuccessfully) _staged.TryRemove(KeyValuePair.Create(key, work));
            return t;
        }, TaskScheduler.Default).Unwrap();
    }

    internal Task ActivateOnceAsync(HostSpec host, string deployPath, string releaseId, CancellationToken ct)
    {
        var entry = _activated.AddOrUpdate(deployPath,
            _ => (releaseId, new Lazy<Task>(() => ActivateAsync(host, deployPath, releaseId, ct))),
            (_, existing) => existing.Id == releaseId && !existing.Work.Value.IsFaulted && !existing.Work.Value.IsCanceled
                ? existing
                : (releaseId, new Lazy<Task>(() => ActivateAsync(host, deployPath, releaseId, ct))));
        return entry.Work.Value;
    }

    internal void Forget(string deployPath)
    {
        _activated.TryRemove(deployPath, out _);
        foreach (var key in _staged.Keys.Where(k => k.Path == deployPath)) _staged.TryRemove(key, out _);
    }

    private async Task StageAsync(HostSpec host, ReleaseBundle bundle, CancellationToken ct)
    {
        foreach (var key in bundle.Config.Keys)
            if (!ReleaseLayout.IsValidConfigKey(key))
                throw HostStepException.CommitFault(host.Name, "stage", $"config key '{ReleaseLayout.Printable(key)}' cannot be a Consul key segment");
        var record = new StagedConfig(bundle.Service, bundle.ReleaseId, new SortedDictionary<string, string>(bundle.Config, StringComparer.Ordinal));
        await PutAsync(ReleaseKey(bundle.DeployPath, bundle.ReleaseId), JsonSerializer.SerializeToUtf8Bytes(record, ConsulJsonContext.Default.StagedConfig), host, "stage", ct);
    }

    private async Task ActivateAsync(HostSpec host, string deployPath, string releaseId, CancellationToken ct)
    {
        var next = await ReadReleaseAsync(deployPath, releaseId, ct)
            ?? throw new HostStepException(host.Name, "activate", $"release {releaseId} is not staged at {ReleaseKey(deployPath, releaseId)}");
        var currentId = await ReadTextAsync($"{ReleasesPath(deployPath)}/current", ct);
        var previous = currentId is null || currentId == releaseId ? null : await ReadReleaseAsync(deployPath, currentId, ct);
        var ops = new List<TxnOp>();
        foreach (var (key, value) in next.Config)
            ops.Add(TxnOp.Set(ConsulKeys.AppConfig(Options.Environment, next.Service, key), Encoding.UTF8.GetBytes(value)));
        if (previous is not null)
            foreach (var key in previous.Config.Keys.Where(k => !next.Config.ContainsKey(k) || previous.Service != next.Service))
                ops.Add(TxnOp.Delete(ConsulKeys.AppConfig(Options.Environment, previous.Service, key)));
        ops.Add(TxnOp.Set($"{ReleasesPath(deployPath)}/current", Encoding.UTF8.GetBytes(releaseId)));
        await CommitAsync(ops, "activate", host.Name, ct);
    }

    internal async Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct)
    {
        var keys = (await Options.Consul.KeysAsync(ReleasesPath(deployPath) + "/", "/", ct)).Value;
        var releases = keys.Where(k => k != $"{ReleasesPath(deployPath)}/current").Select(k => ReleaseIdOf(deployPath, k))
            .OfType<string>().Order(StringComparer.Ordinal).ToImmutableArray();
        return new HostReleases(await ReadTextAsync($"{ReleasesPath(deployPath)}/current", ct), releases);
    }

    internal async Task PruneAsync(HostSpec host, string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct)
    {
        var pairs = (await Options.Consul.ListAsync(ReleasesPath(deployPath) + "/", ct: ct)).Value;
        var current = pairs.FirstOrDefault(p => p.Key == $"{ReleasesPath(deployPath)}/current")?.ValueText;
        // Staging order is Consul's CreateIndex: monotonic, no clocks involved.
        var staged = pairs.Where(p => p.Key != $"{ReleasesPath(deployPath)}/current")
            .Select(p => (Id: ReleaseIdOf(deployPath, p.Key), p.CreateIndex))
            .Where(r => r.Id is not null)
            .Select(r => new StagedRelease(r.Id!, DateTimeOffset.UnixEpoch.AddTicks((long)Math.Min(r.CreateIndex, long.MaxValue / 2)), null));
        var doomed = ReleaseLayout.ReleasesToPrune(staged, current, keep, protect);
        await CommitAsync([.. doomed.Select(id => TxnOp.Delete(ReleaseKey(deployPath, id)))], "prune", host.Name, ct);
        foreach (var id in doomed) _staged.TryRemove((deployPath, id), out _);
    }

    internal async Task RemoveAsync(HostSpec host, string deployPath, CancellationToken ct)
    {
        var currentId = await ReadTextAsync($"{ReleasesPath(deployPath)}/current", ct);
        if (currentId is null) return;
        var current = await ReadReleaseAsync(deployPath, currentId, ct);
        var ops = current is null
            ? new List<TxnOp>()
            : current.Config.Keys.Select(k => TxnOp.Delete(ConsulKeys.AppConfig(Options.Environment, current.Service, k))).ToList();
        ops.Add(TxnOp.Delete($"{ReleasesPath(deployPath)}/current"));
        await CommitAsync(ops, "remove", host.Name, ct);
        Forget(deployPath);
    }

    /// <summary>One transaction when the operations fit Consul's limits (atomic), otherwise chunks in order: the
    /// pointer/last operation lands only after everything before it.</summary>
    private async Task CommitAsync(IReadOnlyList<TxnOp> ops, string step, string host, CancellationToken ct)
    {
        foreach (var chunk in Options.Consul.Chunks(ops))
        {
            TxnResult result;
            try
            {
                result = await Options.Consul.TxnAsync(chunk, ct);
            }
            catch (ConsulException e)
            {
                throw new HostStepException(host, step, e.Message, e);
            }
            Interlocked.Increment(ref _writes);
            if (!result.Committed)
                throw new HostStepException(host, step, "Consul rejected the transaction: " + string.Join("; ", result.Errors.Select(e => e.What)));
        }
    }

    private async Task PutAsync(string key, byte[] value, HostSpec host, string step, CancellationToken ct)
    {
        try
        {
            await Options.Consul.PutAsync(key, value, ct: ct);
            Interlocked.Increment(ref _writes);
        }
        catch (ConsulException e)
        {
            throw new HostStepException(host.Name, step, e.Message, e);
        }
    }

    private async Task<string?> ReadTextAsync(string key, CancellationToken ct) => (await Options.Consul.GetAsync(key, ct: ct)).Value?.ValueText;

    private async Task<StagedConfig?> ReadReleaseAsync(string deployPath, string releaseId, CancellationToken ct)
    {
        var pair = (await Options.Consul.GetAsync(ReleaseKey(deployPath, releaseId), ct: ct)).Value;
        return pair is null ? null : JsonSerializer.Deserialize(pair.Value, ConsulJsonContext.Default.StagedConfig);
    }

    internal sealed record StagedConfig(string Service, string ReleaseId, SortedDictionary<string, string> Config);
}

internal sealed class ConsulKvSession(ConsulKvDriver driver, HostSpec host) : IHostSession
{
    public HostSpec Host { get; } = host;

    public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct) =>
        driver.InspectAsync(ReleaseLayout.CheckDeployPath(Host.Name, "inspect", deployPath), ct);

    public Task StageAsync(ReleaseBundle bundle, CancellationToken ct)
    {
        ReleaseLayout.CheckDeployPath(Host.Name, "stage", bundle.DeployPath);
        ReleaseLayout.CheckReleaseId(Host.Name, "stage", bundle.ReleaseId);
        return driver.StageOnceAsync(Host, bundle, ct);
    }

    /// <summary>The restart command does not apply to keys (apps watch Consul); it is ignored.</summary>
    public Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct) =>
        driver.ActivateOnceAsync(Host, ReleaseLayout.CheckDeployPath(Host.Name, "activate", deployPath),
            ReleaseLayout.CheckReleaseId(Host.Name, "activate", releaseId), ct);

    public Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct) =>
        Task.FromResult(new CommandResult(127, "the consul-kv driver has no host to run commands on; use an http, tcp or consul check"));

    public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct) =>
        driver.PruneAsync(Host, ReleaseLayout.CheckDeployPath(Host.Name, "prune", deployPath), keep, protect, ct);

    public Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct) =>
        driver.RemoveAsync(Host, ReleaseLayout.CheckDeployPath(Host.Name, "remove", deployPath), ct);
}
