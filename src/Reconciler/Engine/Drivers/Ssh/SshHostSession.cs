using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Net.Sockets;
using Reconciler.Schema.Model;
using Renci.SshNet;
using Polly;
using Renci.SshNet.Common;

namespace Reconciler.Drivers.Ssh;

/// <summary>One host's SSH connection. Every step is one or a few exec channels on it (see <see cref="RemoteScripts"/>).
/// A connection that drops while a step runs is reopened and the whole step run again, a bounded number of times
/// (<see cref="SshDriverOptions.ReconnectAttempts"/>, with Polly): every step is idempotent (docs/drivers.md).</summary>
internal sealed class SshHostSession : IHostSession, IAsyncDisposable
{
    private readonly SshHostDriver _driver;
    private readonly SshConnection _connection;
    private readonly SemaphoreSlim _sftpGate = new(1, 1);
    private readonly ConcurrentDictionary<(string Path, string Id), string> _serviceOfRelease = new();
    private readonly ConcurrentDictionary<string, Listing> _listings = new(StringComparer.Ordinal);
    private SftpClient? _sftp;
    private int _execs;

    public SshHostSession(SshHostDriver driver, HostSpec host, SshClient ssh)
    {
        _driver = driver;
        Host = host;
        _connection = new SshConnection(driver, host, ssh);
    }

    public HostSpec Host { get; }

    public bool IsConnected => _connection.IsConnected;

    /// <summary>Exec channels opened so far (the cost per host the benchmarks count).</summary>
    public int Execs => _execs;

    private TimeSpan StepTimeout => _driver.Options.StepTimeout;

    public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct) =>
        _connection.RunAsync("inspect", () => InspectOnceAsync(deployPath, ct), ct);

    public Task StageAsync(ReleaseBundle bundle, CancellationToken ct) =>
        _connection.RunAsync("stage", async () => { await StageOnceAsync(bundle, ct); return true; }, ct);

    public Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct) =>
        _connection.RunAsync("activate", () => ActivateOnceAsync(deployPath, releaseId, restartCommand, ct), ct);

    public async Task<string?> ActivateAndPruneAsync(string deployPath, string releaseId, string? restartCommand, int keep,
        ImmutableArray<string> protect, CancellationToken ct)
    {
        var path = ReleaseLayout.CheckDeployPath(Host.Name, "activate", deployPath);
        // The listing the stage printed is still true (one applier per environment holds the lock): what to delete is
        // known before the switch, and the activation deletes it. Without one (a resumed apply), list in a round trip.
        if (!_listings.TryGetValue(path, out var listing))
        {
            await ActivateAsync(deployPath, releaseId, restartCommand, ct);
            try { await PruneAsync(deployPath, keep, protect, ct); return null; }
            catch (HostStepException e) { return e.Message; }
        }
        var targets = PruneTargets(listing with { Current = releaseId }, keep, protect);
        var pruned = await _connection.RunAsync("activate", () => ActivateOnceAsync(deployPath, releaseId, restartCommand, ct, targets), ct);
        return pruned ? null : $"{Host.Name}: deleting old releases in {path} did not finish; they are deleted at the next prune";
    }

    public async Task<IReadOnlyList<SurveyAnswer>?> SurveyAsync(IReadOnlyList<SurveyQuery> queries, CancellationToken ct)
    {
        var nonce = SshSurvey.NewNonce();
        if (SshSurvey.Command(nonce, queries) is not { } command) return null;
        // As long as the calls it stands for may take: the listing's step timeout plus every check's own.
        var timeout = queries.SelectMany(q => q.Checks).Aggregate(StepTimeout, (sum, check) => sum + check.Timeout);
        return await _connection.RunAsync("inspect", async () =>
        {
            var result = await ExecAsync("inspect", command, null, timeout, ct);
            if (result.ExitCode != 0)
                throw new HostStepException(Host.Name, "inspect", $"listing the deploy paths failed (exit {result.ExitCode}): {Tail(result)}");
            return SshSurvey.Parse(nonce, result.Stdout, result.Stderr, queries);
        }, ct);
    }

    public Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct) =>
        _connection.RunAsync("command", () => RunOnceAsync(command, timeout, ct), ct);

    public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct) =>
        _connection.RunAsync("prune", async () => { await PruneOnceAsync(deployPath, keep, protect, ct); return true; }, ct);

    public Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct) =>
        _connection.RunAsync("remove", async () => { await RemoveOnceAsync(deployPath, stopCommand, ct); return true; }, ct);

    public Task<long?> FreeBytesAsync(string deployPath, CancellationToken ct) =>
        _connection.RunAsync("preflight", () => FreeBytesOnceAsync(deployPath, ct), ct);

    private async Task<HostReleases> InspectOnceAsync(string deployPath, CancellationToken ct)
    {
        return (await ListAsync(deployPath, "inspect", ct)).ToHostReleases();
    }

    private async Task StageOnceAsync(ReleaseBundle bundle, CancellationToken ct)
    {
        const string step = "stage";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, bundle.DeployPath);
        var id = ReleaseLayout.CheckReleaseId(Host.Name, step, bundle.ReleaseId);
        var sha = ReleaseLayout.CheckSha256(Host.Name, step, bundle.ArtifactSha256);
        byte[] configTar;
        try
        {
            configTar = ReleaseFiles.ConfigTar(bundle.Service, id, sha, bundle.Config);
        }
        catch (ArgumentException e)
        {
            throw HostStepException.CommitFault(Host.Name, step, $"config of {bundle.Service} cannot be written: {e.Message}");
        }
        _serviceOfRelease[(path, id)] = bundle.Service;
        _listings.TryRemove(path, out _);

        ExecResult result;
        if (_driver.Options.Upload == SshUpload.Exec)
            result = await StageStreamingAsync(path, id, sha, configTar, bundle.ArtifactPath, ct);
        else
        {
            result = await ExecAsync(step, StageCommand(path, id, sha, configTar, ""), configTar, StepTimeout, ct);
            // Not on the host (or its cached copy was corrupt and removed): upload by SFTP, then stage from it.
            if (result.ExitCode is RemoteScripts.ExitNeedsUpload or RemoteScripts.ExitChecksumMismatch)
            {
                var upload = $"{ReleaseLayout.ArtifactsDir}/.upload-{sha}.sftp{Guid.NewGuid():N}";   // not ".PID": see RemoteScripts.CleanLeftovers
                await SftpUploadAsync(bundle.ArtifactPath, $"{path}/{upload}", ct);
                result = await ExecAsync(step, StageCommand(path, id, sha, configTar, upload), configTar, StepTimeout, ct);
            }
        }
        if (result.ExitCode != 0)
            throw new HostStepException(Host.Name, step, $"staging release {id} in {path} failed (exit {result.ExitCode}): {Tail(result)}");
        _listings[path] = Listing.Parse(result.Stdout);
    }

    private static string StageCommand(string path, string id, string sha, byte[] configTar, string upload) =>
        Shell.Script(RemoteScripts.Stage, path, id, sha, configTar.Length.ToString(CultureInfo.InvariantCulture), upload);

    /// <summary>Stage in one exec channel: send the config tar, let the host say whether it has the artifact
    /// ("have") or not ("need"), and stream the artifact only when asked.</summary>
    private async Task<ExecResult> StageStreamingAsync(string path, string id, string sha, byte[] configTar, string artifactPath, CancellationToken ct)
    {
        const string step = "stage";
        if (!File.Exists(artifactPath))
            throw new HostStepException(Host.Name, step, $"artifact file {artifactPath} does not exist");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(StepTimeout);
        var (client, generation) = _connection.Current;
        Interlocked.Increment(ref _execs);
        _driver.CountExec();
        try
        {
            using var command = client.CreateCommand(StageCommand(path, id, sha, configTar, "-"));
            var run = command.ExecuteAsync(limit.Token);
            await using (var input = TryCreateInput(command))
            {
                if (input is null) return await Finished(command, run); // the script failed before reading anything
                await input.WriteAsync(configTar, limit.Token);
                await input.FlushAsync(limit.Token);
                // SSH.NET's output pipe has no async read: read the one answer line on a pool thread (the CLI
                // raises the pool minimum for this; see docs/benchmarks/drivers.md).
                var answer = await Task.Run(() => ReadAnswer(command.OutputStream), limit.Token);
                if (answer == "need")
                {
                    await using var file = File.OpenRead(artifactPath);
                    try { await file.CopyToAsync(input, 64 * 1024, limit.Token); }
                    catch (Exception e) when (run.IsCompleted && e is not OperationCanceledException) { return await Finished(command, run); }
                    _driver.CountUpload();
                }
            }
            await run;
            return new ExecResult(command.ExitStatus ?? -1, command.Result, command.Error);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new HostStepException(Host.Name, step, $"timed out after {StepTimeout.TotalSeconds:0.#}s");
        }
        catch (Exception e) when (SshErrors.IsConnectionLost(e))
        {
            throw _connection.Lost(generation, e);
        }
    }

    private static Stream? TryCreateInput(SshCommand command)
    {
        try { return command.CreateInputStream(); }
        catch (InvalidOperationException) { return null; }
    }

    private static async Task<ExecResult> Finished(SshCommand command, Task run)
    {
        await run;
        return new ExecResult(command.ExitStatus ?? -1, command.Result, command.Error);
    }

    /// <summary>Reads stdout up to the first "need", "have" or "present" line, byte by byte so nothing after it is
    /// consumed (the rest is read as the command's result). Null at end of output.</summary>
    private static string? ReadAnswer(Stream output)
    {
        var line = new System.Text.StringBuilder();
        for (var guard = 0; guard < 4096; guard++)
        {
            var b = output.ReadByte();
            if (b < 0) return null;
            if (b != '\n') { line.Append((char)b); continue; }
            if (line.ToString() is "need" or "have" or "present") return line.ToString();
            line.Clear();
        }
        return null;
    }

    /// <summary>Returns false when the folded prune (<paramref name="prune"/>: paths to delete) did not finish.</summary>
    private async Task<bool> ActivateOnceAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct,
        IReadOnlyList<string>? prune = null)
    {
        const string step = "activate";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
        var id = ReleaseLayout.CheckReleaseId(Host.Name, step, releaseId);
        // Expand before switching: an unknown ${...} must fail with nothing changed.
        var command = string.IsNullOrWhiteSpace(restartCommand)
            ? ""
            : Interpolation.ExpandCommand(restartCommand, Interpolation.Variables(Host, await ServiceOfAsync(path, id, restartCommand, ct), id, path));
        var result = await ExecAsync(step, Shell.Script(RemoteScripts.Activate, [path, id, command, Host.Name, .. prune ?? []]), null, StepTimeout, ct);
        if (prune is null && result.Stdout.Contains(RemoteScripts.SwitchedMarker, StringComparison.Ordinal) && _listings.TryGetValue(path, out var known))
            _listings[path] = known with { Current = id };
        else
            _listings.TryRemove(path, out _);   // a prune changed what is on disk
        if (result.ExitCode == 0) return !result.Stdout.Contains(RemoteScripts.PruneFailedMarker, StringComparison.Ordinal);
        if (!result.Stdout.Contains(RemoteScripts.SwitchedMarker, StringComparison.Ordinal))
            throw new HostStepException(Host.Name, step, $"switching current to {id} in {path} failed (exit {result.ExitCode}): {Tail(result)}");
        throw HostStepException.CommitFault(Host.Name, "restart",
            $"current now points at {id}, but the restart command exited {result.ExitCode}: {Tail(result, RemoteScripts.SwitchedMarker)}");
    }

    private async Task<CommandResult> RunOnceAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            var result = await ExecAsync("command", command, null, timeout, ct, throwOnTimeout: true);
            return new CommandResult(result.ExitCode, result.Stdout + result.Stderr);
        }
        catch (TimeoutException)
        {
            return CommandResult.Timeout(timeout);
        }
    }

    private async Task PruneOnceAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct)
    {
        const string step = "prune";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
        // The listing the last stage printed is still true (one applier per environment holds the lock).
        var listing = _listings.TryRemove(path, out var known) ? known : await ListAsync(path, step, ct);
        var targets = PruneTargets(listing, keep, protect);
        if (targets.Count == 0) return;
        var result = await ExecAsync(step, Shell.Script(RemoteScripts.Delete, [path, .. targets]), null, StepTimeout, ct);
        if (result.ExitCode != 0)
            throw new HostStepException(Host.Name, step, $"deleting old releases in {path} failed (exit {result.ExitCode}): {Tail(result)}");
    }

    /// <summary>The releases beyond <paramref name="keep"/> (<see cref="ReleaseLayout.ReleasesToPrune"/>) and the cached
    /// artifacts no kept release was made from, as paths relative to the deploy path.</summary>
    private static List<string> PruneTargets(Listing listing, int keep, ImmutableArray<string> protect)
    {
        var doomed = ReleaseLayout.ReleasesToPrune(listing.Releases, listing.Current, keep, protect);
        var keptShas = listing.Releases.Where(r => !doomed.Contains(r.Id)).Select(r => r.ArtifactSha256).OfType<string>().ToHashSet(StringComparer.Ordinal);
        return doomed.Select(ReleaseLayout.ReleaseLinkTarget)
            .Concat(listing.Artifacts.Where(sha => !keptShas.Contains(sha)).Select(sha => $"{ReleaseLayout.ArtifactsDir}/{sha}.tar.gz"))
            .ToList();
    }

    /// <summary>Free kilobytes (df -P) of the file system of the deploy path or its nearest existing parent.</summary>
    private const string FreeSpaceScript = """
        p=$1
        while [ ! -d "$p" ]; do p=${p%/*}; [ -n "$p" ] || p=/; done
        df -Pk "$p" | { read -r _; read -r _ _ _ avail _; echo "$avail"; }
        """;

    private async Task<long?> FreeBytesOnceAsync(string deployPath, CancellationToken ct)
    {
        const string step = "preflight";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
        var result = await ExecAsync(step, Shell.Script(FreeSpaceScript, path), null, StepTimeout, ct);
        // A host without df (or with odd output) cannot tell: preflight does not block on what it cannot know.
        return result.ExitCode == 0 && long.TryParse(result.Stdout.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : null;
    }

    private async Task RemoveOnceAsync(string deployPath, string? stopCommand, CancellationToken ct)
    {
        const string step = "remove";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
        _listings.TryRemove(path, out _);
        var current = (await ListAsync(path, step, ct)).Current;
        if (current is null) return;
        var command = string.IsNullOrWhiteSpace(stopCommand)
            ? ""
            : Interpolation.ExpandCommand(stopCommand, Interpolation.Variables(Host, await ServiceOfAsync(path, current, stopCommand, ct), current, path));
        var result = await ExecAsync(step, Shell.Script(RemoteScripts.Remove, path, command, Host.Name, current), null, StepTimeout, ct);
        if (result.ExitCode != 0)
            throw new HostStepException(Host.Name, step, $"the stop command exited {result.ExitCode}; current was left in place: {Tail(result)}");
    }

    public async ValueTask DisposeAsync()
    {
        await Task.Run(() =>
        {
            _sftp?.Dispose();
            _connection.Dispose();
        });
        _sftpGate.Dispose();
    }

    private async Task<string?> ServiceOfAsync(string path, string id, string template, CancellationToken ct)
    {
        if (_serviceOfRelease.TryGetValue((path, id), out var known)) return known;
        // Only a command that uses ${service.name} needs it before the switch; the scripts read it on the host.
        if (!template.Contains("service.name", StringComparison.Ordinal)) return null;
        var marker = await ExecAsync("activate", Shell.Script(RemoteScripts.ReadService, path, id), null, StepTimeout, ct);
        return marker.Stdout.Trim() is { Length: > 0 } service ? service : null;
    }

    private async Task SftpUploadAsync(string localFile, string remotePath, CancellationToken ct)
    {
        const string step = "upload";
        if (!File.Exists(localFile))
            throw new HostStepException(Host.Name, step, $"artifact file {localFile} does not exist");
        var sftp = await SftpAsync(ct);
        try
        {
            await using var file = File.OpenRead(localFile);
            await sftp.UploadFileAsync(file, remotePath, ct);
        }
        catch (Exception e) when (SshErrors.IsConnectionLost(e))
        {
            throw _connection.Lost(_connection.Current.Generation, e);
        }
        catch (Exception e) when (e is SshException or IOException)
        {
            throw new HostStepException(Host.Name, step, $"SFTP upload to {remotePath} failed: {SshErrors.Describe(e)}", e);
        }
        _driver.CountUpload();
    }

    private async Task<SftpClient> SftpAsync(CancellationToken ct)
    {
        await _sftpGate.WaitAsync(ct);
        try
        {
            if (_sftp is { IsConnected: true }) return _sftp;
            _sftp?.Dispose();
            return _sftp = await _driver.ConnectSftpAsync(Host, ct);
        }
        finally
        {
            _sftpGate.Release();
        }
    }

    private async Task<Listing> ListAsync(string path, string step, CancellationToken ct)
    {
        path = ReleaseLayout.CheckDeployPath(Host.Name, step, path);
        var result = await ExecAsync(step, Shell.Script(RemoteScripts.List, path), null, StepTimeout, ct);
        if (result.ExitCode != 0)
            throw new HostStepException(Host.Name, step, $"listing {path} failed (exit {result.ExitCode}): {Tail(result)}");
        return Listing.Parse(result.Stdout);
    }

    private async Task<ExecResult> ExecAsync(string step, string commandText, byte[]? stdin, TimeSpan timeout, CancellationToken ct,
        bool throwOnTimeout = false)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        var (client, generation) = _connection.Current;
        Interlocked.Increment(ref _execs);
        _driver.CountExec();
        try
        {
            using var command = client.CreateCommand(commandText);
            var run = command.ExecuteAsync(limit.Token);
            // Always close stdin (EOF), so a command that reads it cannot wait forever. A command that already
            // finished has no input stream any more: its result is what matters.
            await using (var input = TryCreateInput(command))
            {
                if (input is not null && stdin is not null)
                {
                    try { await input.WriteAsync(stdin, limit.Token); }
                    catch (Exception e) when (run.IsCompleted && e is not OperationCanceledException) { }
                }
            }
            await run;
            return new ExecResult(command.ExitStatus ?? -1, command.Result, command.Error);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            if (throwOnTimeout) throw new TimeoutException();
            throw new HostStepException(Host.Name, step, $"timed out after {timeout.TotalSeconds:0.#}s");
        }
        catch (Exception e) when (SshErrors.IsConnectionLost(e))
        {
            throw _connection.Lost(generation, e);
        }
    }

    private static string Tail(ExecResult r, string? dropLine = null)
    {
        // Not cut here: the engine cleans secrets from the whole output first, then bounds it (SecretRedactor).
        var text = (r.Stderr + r.Stdout).Replace(dropLine ?? "\0", "", StringComparison.Ordinal).Trim();
        return text.Length == 0 ? "(no output)" : text;
    }

    private sealed record ExecResult(int ExitCode, string Stdout, string Stderr);

    /// <summary>Parsed output of <see cref="RemoteScripts.List"/>. Lines that do not name a valid release or
    /// artifact are ignored: a stray directory is never deleted or reported as a release.</summary>
    internal sealed record Listing(string? Current, ImmutableArray<StagedRelease> Releases, ImmutableArray<string> Artifacts)
    {
        /// <summary>What <see cref="IHostSession.InspectAsync"/> reports: current and the complete releases, sorted.</summary>
        public HostReleases ToHostReleases() => new(Current, [.. Releases.Select(r => r.Id).Order(StringComparer.Ordinal)]);

        public static Listing Parse(string output)
        {
            string? current = null;
            var staged = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            var shas = new Dictionary<string, string>(StringComparer.Ordinal);
            var artifacts = ImmutableArray.CreateBuilder<string>();
            const string releasesPrefix = ReleaseLayout.ReleasesDir + "/";
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith("C ", StringComparison.Ordinal))
                    current = ReleaseLayout.ReleaseIdFromLinkTarget(line[2..]);
                else if (line.StartsWith("R ", StringComparison.Ordinal))
                {
                    var parts = line[2..].Split(' ', 2);
                    var id = parts.Length == 2 && parts[1].StartsWith("./" + releasesPrefix, StringComparison.Ordinal)
                        ? parts[1][(releasesPrefix.Length + 2)..] : "";
                    if (ReleaseLayout.IsValidReleaseId(id) && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
                        staged[id] = DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
                }
                else if (line.StartsWith("S " + releasesPrefix, StringComparison.Ordinal))
                {
                    var parts = line[(2 + releasesPrefix.Length)..].Split(' ', 2);
                    if (parts.Length == 2 && ReleaseLayout.IsValidReleaseId(parts[0]) && ReleaseLayout.IsValidSha256(parts[1])) shas[parts[0]] = parts[1];
                }
                else if (line.StartsWith("A ", StringComparison.Ordinal) && line.EndsWith(".tar.gz", StringComparison.Ordinal))
                {
                    var sha = line[2..^".tar.gz".Length];
                    if (ReleaseLayout.IsValidSha256(sha)) artifacts.Add(sha);
                }
            }
            var releases = staged.Select(r => new StagedRelease(r.Key, r.Value, shas.GetValueOrDefault(r.Key))).ToImmutableArray();
            return new Listing(current, releases, artifacts.ToImmutable());
        }
    }
}
