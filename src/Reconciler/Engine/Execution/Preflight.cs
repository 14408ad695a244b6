using System.Collections.Concurrent;
using System.Formats.Tar;
using System.IO.Compression;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>One thing preflight found wrong, and whose fault it is (a checksum the commit pins that the artifact does not
/// match is the commit's; a secret that does not resolve, a host that cannot be reached, a full disk are the environment's).</summary>
public sealed record PreflightProblem(FailureKind Kind, string Message);

/// <summary>What preflight checked and found.</summary>
public sealed record PreflightReport(int Secrets, int Artifacts, int Hosts, IReadOnlyList<PreflightProblem> Problems)
{
    public bool Passed => Problems.Count == 0;

    /// <summary>A commit fault among the problems quarantines the commit (nothing was changed); otherwise the environment is at fault.</summary>
    public FailureKind Kind => Problems.Any(p => p.Kind is FailureKind.CommitFault or FailureKind.InvalidInput) ? FailureKind.CommitFault : FailureKind.EnvironmentFault;

    public string Summary => $"{Secrets} secret(s), {Artifacts} artifact(s), {Hosts} host(s)";

    public string Describe() => string.Join("; ", Problems.Select(p => p.Message));
}

/// <summary>
/// The checks before the first host changes (docs/apply.md): every secret the plan's releases need resolves, every
/// artifact is fetched and matches its checksum, every host the plan touches is reachable with its pinned key and lets us
/// in, and each host's deploy path has room for the release. Every check runs, and every problem is reported at once.
/// The sessions it opens are the apply's own, so checking reachability costs no extra handshake.
/// </summary>
internal sealed class Preflight(ExecutorDependencies deps, DesiredState desired, Plan plan, HostSessions sessions)
{
    /// <summary>Room asked for beyond the release itself (config, marker, the temporary directory's entries).</summary>
    private const long Slack = 1 << 20;

    public async Task<PreflightReport> RunAsync(CancellationToken ct)
    {
        var problems = new ConcurrentBag<PreflightProblem>();
        var releases = plan.Services
            .Where(c => c.Action is not (ServiceAction.NoOp or ServiceAction.Remove) && desired.Services.ContainsKey(c.Service))
            .Select(c => (Change: c, Spec: desired.Services[c.Service]))
            .ToList();

        var secrets = releases.SelectMany(r => r.Spec.Config.Values.OfType<ConfigValue.Secret>()).Select(s => s.Reference).Distinct(StringComparer.Ordinal).ToList();
        foreach (var reference in secrets)
        {
            try { await deps.Secrets.ResolveAsync(reference, ct); }
            catch (ReconcilerException e) { problems.Add(new(e.Kind, e.Message)); }
        }

        // The bytes each service's release needs on a host that does not have it yet: the artifact and what it unpacks to.
        var needs = new Dictionary<string, long>(StringComparer.Ordinal);
        var fetched = 0;
        foreach (var (change, spec) in releases.Where(r => r.Change.Hosts.Any(h => h.ToRelease is not null)))
        {
            var artifact = spec.Artifact with { Url = spec.Artifact.Url.Replace("${version}", spec.Version, StringComparison.Ordinal) };
            try
            {
                var path = await deps.Artifacts.FetchAsync(artifact, ct);
                fetched++;
                if (File.Exists(path)) needs[change.Service] = new FileInfo(path).Length + UnpackedSize(path) + Slack;
            }
            catch (ReconcilerException e) { problems.Add(new(e.Kind, $"{change.Service}: {e.Message}")); }
            catch (IOException e) { problems.Add(new(FailureKind.EnvironmentFault, $"{change.Service}: artifact {artifact.Url}: {e.Message}")); }
            catch (InvalidDataException e) { problems.Add(new(FailureKind.CommitFault, $"{change.Service}: artifact {artifact.Url} is not a .tar.gz: {e.Message}")); }
        }

        // Every host receiving a release, per driver (a removal needs no preflight: it writes nothing): reachable, authenticated, room for each release it receives.
        var work = releases
            .SelectMany(r => r.Change.Hosts.Where(h => NeedsWork(r.Change, h)).Select(h => (r.Change, Host: h, r.Spec.Deploy.Driver)))
            .Where(w => IsDefined(w.Host.Host))
            .GroupBy(w => (w.Driver, w.Host.Host), w => (w.Change, w.Host))
            .ToList();
        await Task.WhenAll(work.Select(async group =>
        {
            IHostSession session;
            try
            {
                session = await sessions.OpenAsync(group.Key.Driver, FindHost(group.Key.Host));
            }
            catch (HostStepException e) { problems.Add(new(e.Kind, e.Message)); return; }
            catch (ReconcilerException e) { problems.Add(new(e.Kind, $"{group.Key.Host}: {e.Message}")); return; }
            // Each release against the free space of its own deploy path.
            foreach (var (change, host) in group.Where(w => w.Host.ToRelease is not null && needs.ContainsKey(w.Change.Service)))
            {
                var path = desired.Services[change.Service].Deploy.Path;
                try
                {
                    if (await session.FreeBytesAsync(path, ct) is { } free && free < needs[change.Service])
                        problems.Add(new(FailureKind.EnvironmentFault,
                            $"{host.Host}: {path} has {Megabytes(free)} free; release {host.ToRelease} of {change.Service} needs about {Megabytes(needs[change.Service])}. Free space on the host"));
                }
                catch (HostStepException e) { problems.Add(new(e.Kind, e.Message)); }
            }
        }));
        var ordered = problems.OrderBy(p => p.Message, StringComparer.Ordinal).ToList();
        return new PreflightReport(secrets.Count, fetched, work.Count, ordered);
    }

    internal static bool NeedsWork(ServiceChange change, HostChange h) => change.Action is ServiceAction.Redeploy or ServiceAction.Repair || h.FromRelease != h.ToRelease;

    private readonly Dictionary<string, HostSpec> _hosts = ApplyContext.HostsByName(desired.EnvironmentSpec);

    private bool IsDefined(string host) => _hosts.ContainsKey(host);

    private HostSpec FindHost(string host) => _hosts[host];

    /// <summary>The bytes the .tar.gz unpacks to (its entries' sizes): what staging writes under releases/.</summary>
    private static long UnpackedSize(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        long total = 0;
        while (tar.GetNextEntry() is { } entry) total += entry.Length + 512;
        return total;
    }

    private static string Megabytes(long bytes) => $"{bytes / (1024.0 * 1024.0):0.#} MB";
}
