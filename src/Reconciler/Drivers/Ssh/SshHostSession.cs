using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Net.Sockets;
using Reconciler.Schema.Model;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Reconciler.Drivers.Ssh;

/// <summary>One host's SSH connection. Every step is one or a few exec channels on it (see <see cref="RemoteScripts"/>).</summary>
internal sealed class SshHostSession : IHostSession, IAsyncDisposable
{
    private readonly SshHostDriver _driver;
    private readonly SshClient _ssh;
    private readonly SemaphoreSlim _sftpGate = new(1, 1);
    private readonly ConcurrentDictionary<(string Path, string Id), string> _serviceOfRelease = new();
    private SftpClient? _sftp;

    public SshHostSession(SshHostDriver driver, HostSpec host, SshClient ssh)
    {
        _driver = driver;
        Host = host;
        _ssh = ssh;
    }

    public HostSpec Host { get; }

    public bool IsConnected => _ssh.IsConnected;

    private TimeSpan StepTimeout => _driver.Options.StepTimeout;

    public async Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct)
    {
        var listing = await ListAsync(deployPath, "inspect", ct);
        return new HostReleases(listing.Current,
            [.. listing.Releases.Select(r => r.Id).Order(StringComparer.Ordinal)]);
    }

    public async Task StageAsync(ReleaseBundle bundle, CancellationToken ct)
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
            throw new HostStepException(Host.Name, step, $"config of {bundle.Service} cannot be written: {e.Message}");
        }
        _serviceOfRelease[(path, id)] = bundle.Service;

        var result = await ExecAsync(step, Shell.Script(RemoteScripts.Stage, path, id, sha, ""), configTar, StepTimeout, ct);
        // A corrupt cached artifact was removed by the script: upload a fresh one, like a missing one.
        if (result.ExitCode is RemoteScripts.ExitNeedsUpload or RemoteScripts.ExitChecksumMismatch)
        {
            var upload = $"{ReleaseLayout.ArtifactsDir}/.upload-{sha}.{Guid.NewGuid():N}";
            await UploadAsync(bundle.ArtifactPath, path, upload, ct);
            result = await ExecAsync(step, Shell.Script(RemoteScripts.Stage, path, id, sha, upload), configTar, StepTimeout, ct);
        }
        if (result.ExitCode != 0)
            throw new HostStepException(Host.Name, step, $"staging release {id} in {path} failed (exit {result.ExitCode}): {Tail(result)}");
    }

    public async Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct)
    {
        const string step = "activate";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
        var id = ReleaseLayout.CheckReleaseId(Host.Name, step, releaseId);
        // Expand before switching: an unknown ${...} must fail with nothing changed.
        var command = string.IsNullOrWhiteSpace(restartCommand)
            ? ""
            : Interpolation.ExpandCommand(restartCommand, Interpolation.Variables(Host, await ServiceOfAsync(path, id, restartCommand, ct), id, path));
        var result = await ExecAsync(step, Shell.Script(RemoteScripts.Activate, path, id, command, Host.Name), null, StepTimeout, ct);
        if (result.ExitCode == 0) return;
        if (!result.Stdout.Contains(RemoteScripts.SwitchedMarker, StringComparison.Ordinal))
            throw new HostStepException(Host.Name, step, $"switching current to {id} in {path} failed (exit {result.ExitCode}): {Tail(result)}");
        throw new HostStepException(Host.Name, "restart",
            $"current now points at {id}, but the restart command exited {result.ExitCode}: {Tail(result, RemoteScripts.SwitchedMarker)}");
    }

    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            var result = await ExecAsync("command", command, null, timeout, ct, throwOnTimeout: true);
            return new CommandResult(result.ExitCode, result.Stdout + result.Stderr);
        }
        catch (TimeoutException)
        {
            return new CommandResult(124, $"timed out after {timeout.TotalSeconds:0.###}s");
        }
    }

    public async Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct)
    {
        const string step = "prune";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
        var listing = await ListAsync(path, step, ct);
        var doomed = ReleaseLayout.ReleasesToPrune(listing.Releases, listing.Current, keep, protect);
        var keptShas = listing.Releases.Where(r => !doomed.Contains(r.Id)).Select(r => r.ArtifactSha256).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var targets = doomed.Select(ReleaseLayout.ReleaseLinkTarget)
            .Concat(listing.Artifacts.Where(sha => !keptShas.Contains(sha)).Select(sha => $"{ReleaseLayout.ArtifactsDir}/{sha}.tar.gz"))
            .ToList();
        if (targets.Count == 0) return;
        var result = await ExecAsync(step, Shell.Script(RemoteScripts.Delete, [path, .. targets]), null, StepTimeout, ct);
        if (result.ExitCode != 0)
            throw new HostStepException(Host.Name, step, $"deleting old releases in {path} failed (exit {result.ExitCode}): {Tail(result)}");
    }

    public async Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct)
    {
        const string step = "remove";
        var path = ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath);
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
            _ssh.Dispose();
        });
        _sftpGate.Dispose();
    }

    private async Task<string?> ServiceOfAsync(string path, string id, string template, CancellationToken ct)
    {
        if (_serviceOfRelease.TryGetValue((path, id), out var known)) return known;
        // Only a command that uses ${service.name} needs it before the switch; the scripts read it on the host.
        if (!template.Contains("service.name", StringComparison.Ordinal)) return null;
        var marker = await ExecAsync("activate", Shell.Script(RemoteScripts.ReadMarker, path, id), null, StepTimeout, ct);
        return ReleaseLayout.MarkerValue(marker.Stdout, "service");
    }

    private async Task UploadAsync(string localFile, string deployPath, string remoteRelative, CancellationToken ct)
    {
        const string step = "upload";
        if (!File.Exists(localFile))
            throw new HostStepException(Host.Name, step, $"artifact file {localFile} does not exist");
        if (_driver.Options.Upload == SshUpload.Sftp)
        {
            var sftp = await SftpAsync(ct);
            try
            {
                await using var file = File.OpenRead(localFile);
                await sftp.UploadFileAsync(file, $"{deployPath}/{remoteRelative}", ct);
            }
            catch (Exception e) when (e is SshException or SocketException or IOException)
            {
                throw new HostStepException(Host.Name, step, $"SFTP upload to {deployPath}/{remoteRelative} failed: {e.Message}", e);
            }
        }
        else
        {
            var bytes = await File.ReadAllBytesAsync(localFile, ct);
            var result = await ExecAsync(step, Shell.Script(RemoteScripts.Upload, remoteRelative, deployPath), bytes, StepTimeout, ct);
            if (result.ExitCode != 0)
                throw new HostStepException(Host.Name, step, $"upload to {deployPath}/{remoteRelative} failed (exit {result.ExitCode}): {Tail(result)}");
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
        try
        {
            using var command = _ssh.CreateCommand(commandText);
            var run = command.ExecuteAsync(limit.Token);
            // Always close stdin (EOF), so a command that reads it cannot wait forever.
            await using (var input = command.CreateInputStream())
            {
                if (stdin is not null) await input.WriteAsync(stdin, limit.Token);
            }
            await run;
            return new ExecResult(command.ExitStatus ?? -1, command.Result, command.Error);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            if (throwOnTimeout) throw new TimeoutException();
            throw new HostStepException(Host.Name, step, $"timed out after {timeout.TotalSeconds:0.#}s");
        }
        catch (Exception e) when (e is SshConnectionException or SocketException or ObjectDisposedException or SshException)
        {
            throw new HostStepException(Host.Name, step, $"connection to {Host.Address}:{Host.Port} lost: {e.Message}", e);
        }
    }

    private static string Tail(ExecResult r, string? dropLine = null)
    {
        var text = (r.Stderr + r.Stdout).Replace(dropLine ?? "\0", "", StringComparison.Ordinal).Trim();
        if (text.Length > 1000) text = "..." + text[^1000..];
        return text.Length == 0 ? "(no output)" : text;
    }

    private sealed record ExecResult(int ExitCode, string Stdout, string Stderr);

    /// <summary>Parsed output of <see cref="RemoteScripts.List"/>. Lines that do not name a valid release or
    /// artifact are ignored: a stray directory is never deleted or reported as a release.</summary>
    private sealed record Listing(string? Current, ImmutableArray<StagedRelease> Releases, ImmutableArray<string> Artifacts)
    {
        public static Listing Parse(string output)
        {
            string? current = null;
            var releases = ImmutableArray.CreateBuilder<StagedRelease>();
            var artifacts = ImmutableArray.CreateBuilder<string>();
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith("C ", StringComparison.Ordinal))
                    current = ReleaseLayout.ReleaseIdFromLinkTarget(line[2..]);
                else if (line.StartsWith("R ", StringComparison.Ordinal))
                {
                    var parts = line[2..].Split(' ');
                    if (parts.Length >= 2 && ReleaseLayout.IsValidReleaseId(parts[1])
                        && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
                        releases.Add(new StagedRelease(parts[1],
                            DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond)),
                            parts.Length >= 3 && ReleaseLayout.IsValidSha256(parts[2]) ? parts[2] : null));
                }
                else if (line.StartsWith("A ", StringComparison.Ordinal) && line.EndsWith(".tar.gz", StringComparison.Ordinal))
                {
                    var sha = line[2..^".tar.gz".Length];
                    if (ReleaseLayout.IsValidSha256(sha)) artifacts.Add(sha);
                }
            }
            return new Listing(current, releases.ToImmutable(), artifacts.ToImmutable());
        }
    }
}
