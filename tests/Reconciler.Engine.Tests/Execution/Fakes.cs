using System.Collections.Concurrent;
using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Schema.Model;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>
/// A host driver that keeps each host's releases and `current` in memory and records every call
/// ("web-1 activate /srv/api 1.5.0-..."). <see cref="FailWhen"/> scripts failures: return an exception to throw.
/// </summary>
public sealed class FakeHostDriver(DriverKind kind = DriverKind.Ssh) : IHostDriver
{
    private readonly ConcurrentQueue<string> _calls = new();
    private readonly ConcurrentDictionary<(string Host, string Path), string?> _current = new();
    private readonly ConcurrentDictionary<(string Host, string Path), ImmutableHashSet<string>> _releases = new();

    public DriverKind Kind => kind;
    public Func<string, string, Exception?> FailWhen { get; set; } = (_, _) => null;   // (host, operation) -> exception
    public IReadOnlyList<string> Calls => [.. _calls];
    public int Disposed { get; private set; }

    public string? Current(string host, string path) => _current.GetValueOrDefault((host, path));
    public ImmutableHashSet<string> Releases(string host, string path) => _releases.GetValueOrDefault((host, path)) ?? [];

    public void SetCurrent(string host, string path, string release)
    {
        _current[(host, path)] = release;
        _releases.AddOrUpdate((host, path), [release], (_, s) => s.Add(release));
    }

    public Task<IHostSession> OpenAsync(HostSpec host, CancellationToken ct)
    {
        Record(host.Name, "open", "");
        return Task.FromResult<IHostSession>(new Session(this, host));
    }

    public ValueTask DisposeAsync()
    {
        Disposed++;
        return ValueTask.CompletedTask;
    }

    private void Record(string host, string op, string args)
    {
        if (FailWhen(host, op) is { } e) { _calls.Enqueue($"{host} {op} FAILED"); throw e; }
        _calls.Enqueue($"{host} {op} {args}".TrimEnd());
    }

    private sealed class Session(FakeHostDriver d, HostSpec host) : IHostSession
    {
        public HostSpec Host => host;

        public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct) =>
            Task.FromResult(new HostReleases(d.Current(host.Name, deployPath), [.. d.Releases(host.Name, deployPath).Order()]));

        public Task StageAsync(ReleaseBundle bundle, CancellationToken ct)
        {
            d.Record(host.Name, "stage", $"{bundle.DeployPath} {bundle.ReleaseId}");
            d._releases.AddOrUpdate((host.Name, bundle.DeployPath), [bundle.ReleaseId], (_, s) => s.Add(bundle.ReleaseId));
            return Task.CompletedTask;
        }

        public Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct)
        {
            d.Record(host.Name, "activate", $"{deployPath} {releaseId}");
            if (!d.Releases(host.Name, deployPath).Contains(releaseId))
                throw new HostStepException(host.Name, "activate", $"release {releaseId} is not on the host");
            d._current[(host.Name, deployPath)] = releaseId;
            return Task.CompletedTask;
        }

        public Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct)
        {
            d.Record(host.Name, "run", command);
            return Task.FromResult(new CommandResult(0, ""));
        }

        public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct)
        {
            d.Record(host.Name, "prune", $"{deployPath} {keep}");
            return Task.CompletedTask;
        }

        public Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct)
        {
            d.Record(host.Name, "remove", deployPath);
            d._current.TryRemove((host.Name, deployPath), out _);
            return Task.CompletedTask;
        }
    }
}

/// <summary>Health probe with scripted results: (host, release) -> healthy?. Counts probes per host.</summary>
public sealed class FakeHealthProbe : IHealthProbe
{
    private readonly ConcurrentDictionary<string, int> _probes = new();
    public Func<string, string, bool> Healthy { get; set; } = (_, _) => true;
    public int ProbesOf(string host) => _probes.GetValueOrDefault(host);

    public Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
    {
        _probes.AddOrUpdate(context.Host.Name, 1, (_, n) => n + 1);
        var ok = Healthy(context.Host.Name, context.ReleaseId);
        return Task.FromResult(new ProbeResult(ok, ok ? "ok" : $"{context.Service} {context.ReleaseId} answers 503"));
    }
}

public sealed class FakeArtifactFetcher : IArtifactFetcher
{
    public ConcurrentQueue<string> Fetched { get; } = new();

    public Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct)
    {
        Fetched.Enqueue(artifact.Url);
        return Task.FromResult("/cache/" + Path.GetFileName(artifact.Url));
    }
}

public sealed class FakeSecretResolver : ISecretResolver
{
    public Task<string> ResolveAsync(string reference, CancellationToken ct) => Task.FromResult("resolved:" + reference);
}
