using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Local;

public sealed record LocalDriverOptions
{
    /// <summary>Where "hosts" of the local driver live: host H's deploy path /srv/api is LOCALROOT/H/srv/api.
    /// The CLI uses REPO/.reconciler/local, so a demo never writes outside the repo's working directory.</summary>
    public required string LocalRoot { get; init; }

    /// <summary>Upper bound for a restart/stop command.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// The local driver: the ssh driver's layout (see <see cref="ReleaseLayout"/>) on this machine, under
/// <see cref="LocalDriverOptions.LocalRoot"/>/HOST/ so several local "hosts" never share a directory. Used by
/// the embedded default and the example repo. Restart commands run with /bin/sh in the release directory and
/// may start long-running processes; those must detach themselves (setsid/nohup in the script).
/// </summary>
public sealed partial class LocalHostDriver(LocalDriverOptions options) : IHostDriver
{
    private readonly ConcurrentDictionary<string, LocalHostSession> _sessions = new(StringComparer.Ordinal);

    public DriverKind Kind => DriverKind.Local;

    public LocalDriverOptions Options { get; } = options;

    /// <summary>Where host <paramref name="hostName"/>'s <paramref name="deployPath"/> is on this machine.</summary>
    public string MapPath(string hostName, string deployPath) =>
        Path.Combine(Path.GetFullPath(Options.LocalRoot), hostName, deployPath.TrimStart('/'));

    public Task<IHostSession> OpenAsync(HostSpec host, CancellationToken ct)
    {
        if (!HostNamePattern().IsMatch(host.Name))
            throw new HostStepException(host.Name, "connect", $"refusing unsafe host name '{ReleaseLayout.Printable(host.Name)}' as a directory name");
        return Task.FromResult<IHostSession>(_sessions.GetOrAdd(host.Name, _ => new LocalHostSession(this, host)));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex HostNamePattern();
}

internal sealed class LocalHostSession(LocalHostDriver driver, HostSpec host) : IHostSession
{
    public HostSpec Host { get; } = host;

    public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct)
    {
        var root = Root(deployPath, "inspect");
        return Task.FromResult(new HostReleases(CurrentOf(root), [.. List(root).Select(r => r.Id).Order(StringComparer.Ordinal)]));
    }

    public async Task StageAsync(ReleaseBundle bundle, CancellationToken ct)
    {
        const string step = "stage";
        var root = Root(bundle.DeployPath, step);
        var id = ReleaseLayout.CheckReleaseId(Host.Name, step, bundle.ReleaseId);
        var sha = ReleaseLayout.CheckSha256(Host.Name, step, bundle.ArtifactSha256);
        var releases = Directory.CreateDirectory(Path.Combine(root, ReleaseLayout.ReleasesDir)).FullName;
        var final = Path.Combine(releases, id);
        try
        {
            LocalLeftovers.Clean(root, releases);
            if (MarkerSha(final) == sha)
            {
                ReleaseFiles.WriteLocal(final, bundle.Service, id, sha, bundle.Config);
                return;
            }
            await VerifyChecksumAsync(bundle.ArtifactPath, sha, ct);
            var temp = Path.Combine(releases, LocalLeftovers.TempName($".tmp-{id}."));
            try
            {
                Directory.CreateDirectory(temp);
                await using (var file = File.OpenRead(bundle.ArtifactPath))
                await using (var gzip = new GZipStream(file, CompressionMode.Decompress))
                    await TarFile.ExtractToDirectoryAsync(gzip, temp, overwriteFiles: true, ct);
                ReleaseFiles.WriteLocal(temp, bundle.Service, id, sha, bundle.Config);
                if (Directory.Exists(final) || File.Exists(final))
                {
                    if (CurrentOf(root) == id)
                        throw new HostStepException(Host.Name, step, $"{final} exists without a matching marker and is current; refusing to replace it (move it away by hand)");
                    DeleteTree(final);
                }
                Directory.Move(temp, final);
            }
            finally
            {
                if (Directory.Exists(temp)) DeleteTree(temp);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            throw new HostStepException(Host.Name, step, $"staging release {id} in {root} failed: {e.Message}", e);
        }
    }

    public async Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct)
    {
        const string step = "activate";
        var root = Root(deployPath, step);
        var id = ReleaseLayout.CheckReleaseId(Host.Name, step, releaseId);
        var releaseDir = Path.Combine(root, ReleaseLayout.ReleasesDir, id);
        var marker = Path.Combine(releaseDir, ReleaseLayout.MarkerFile);
        if (!File.Exists(marker))
            throw new HostStepException(Host.Name, step, $"release {id} is not staged in {root}");
        var service = ReleaseLayout.MarkerValue(await File.ReadAllTextAsync(marker, ct), "service") ?? "";
        var command = string.IsNullOrWhiteSpace(restartCommand)
            ? null
            : Interpolation.ExpandCommand(restartCommand, Interpolation.Variables(Host, service, id, root));

        var temp = Path.Combine(root, LocalLeftovers.TempName(".current.tmp."));
        try
        {
            File.CreateSymbolicLink(temp, ReleaseLayout.ReleaseLinkTarget(id));
            // File.Move refuses a symlink to a directory as its source, so rename(2) directly: it replaces the
            // old link in one step, and `current` is never missing or dangling.
            if (rename(temp, Path.Combine(root, ReleaseLayout.CurrentLink)) != 0)
                throw new HostStepException(Host.Name, step,
                    $"switching current to {id} in {root} failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
        finally
        {
            if (File.Exists(temp) || Directory.Exists(temp)) File.Delete(temp);
        }
        if (command is null) return;
        var result = await RunShellAsync(command, releaseDir, root, service, id, driver.Options.StepTimeout, logToFile: true, ct);
        if (result.ExitCode != 0)
            throw HostStepException.CommitFault(Host.Name, "restart", $"current now points at {id}, but the restart command exited {result.ExitCode}: {result.Output}");
    }

    public string PathOnHost(string deployPath) => driver.MapPath(Host.Name, deployPath);

    public Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        var home = Directory.CreateDirectory(driver.MapPath(Host.Name, "/")).FullName;
        return RunShellAsync(command, home, null, null, null, timeout, logToFile: false, ct);
    }

    public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct)
    {
        const string step = "prune";
        var root = Root(deployPath, step);
        try
        {
            foreach (var id in ReleaseLayout.ReleasesToPrune(List(root), CurrentOf(root), keep, protect))
                DeleteTree(Path.Combine(root, ReleaseLayout.ReleasesDir, id));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HostStepException(Host.Name, step, $"deleting old releases in {root} failed: {e.Message}", e);
        }
        return Task.CompletedTask;
    }

    public async Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct)
    {
        const string step = "remove";
        var root = Root(deployPath, step);
        var current = CurrentOf(root);
        var link = Path.Combine(root, ReleaseLayout.CurrentLink);
        if (current is null && new FileInfo(link).LinkTarget is null) return;
        if (current is not null && !string.IsNullOrWhiteSpace(stopCommand))
        {
            var releaseDir = Path.Combine(root, ReleaseLayout.ReleasesDir, current);
            var marker = Path.Combine(releaseDir, ReleaseLayout.MarkerFile);
            var service = File.Exists(marker) ? ReleaseLayout.MarkerValue(await File.ReadAllTextAsync(marker, ct), "service") ?? "" : "";
            var command = Interpolation.ExpandCommand(stopCommand, Interpolation.Variables(Host, service, current, root));
            var result = await RunShellAsync(command, releaseDir, root, service, current, driver.Options.StepTimeout, logToFile: true, ct);
            if (result.ExitCode != 0)
                throw new HostStepException(Host.Name, step, $"the stop command exited {result.ExitCode}; current was left in place: {result.Output}");
        }
        File.Delete(link);
    }

    private string Root(string deployPath, string step) =>
        driver.MapPath(Host.Name, ReleaseLayout.CheckDeployPath(Host.Name, step, deployPath));

    private static string? CurrentOf(string root) =>
        ReleaseLayout.ReleaseIdFromLinkTarget(new FileInfo(Path.Combine(root, ReleaseLayout.CurrentLink)).LinkTarget);

    private static string? MarkerSha(string releaseDir)
    {
        var marker = Path.Combine(releaseDir, ReleaseLayout.MarkerFile);
        return File.Exists(marker) ? ReleaseLayout.MarkerValue(File.ReadAllText(marker), "sha256") : null;
    }

    private static IEnumerable<StagedRelease> List(string root)
    {
        var releases = Path.Combine(root, ReleaseLayout.ReleasesDir);
        if (!Directory.Exists(releases)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(releases))
        {
            var id = Path.GetFileName(dir);
            var marker = Path.Combine(dir, ReleaseLayout.MarkerFile);
            if (!ReleaseLayout.IsValidReleaseId(id) || !File.Exists(marker)) continue;
            yield return new StagedRelease(id, File.GetLastWriteTimeUtc(marker), MarkerSha(dir));
        }
    }

    private async Task VerifyChecksumAsync(string artifact, string expected, CancellationToken ct)
    {
        if (!File.Exists(artifact))
            throw new HostStepException(Host.Name, "stage", $"artifact file {artifact} does not exist");
        await using var file = File.OpenRead(artifact);
        var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
        if (actual != expected)
            throw new HostStepException(Host.Name, "stage", $"artifact {artifact} does not match sha256 {expected} (actual {actual})");
    }

    /// <summary>/bin/sh -c COMMAND with the documented environment. With <paramref name="logToFile"/> the output
    /// goes to DEPLOY/.restart.log (stdin closed) so a daemon the command leaves behind holds no pipe of ours.</summary>
    private async Task<CommandResult> RunShellAsync(string command, string workingDirectory, string? deployRoot, string? service,
        string? releaseId, TimeSpan timeout, bool logToFile, CancellationToken ct)
    {
        var log = logToFile ? Path.Combine(deployRoot!, ReleaseLayout.RestartLog) : null;
        var psi = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = !logToFile,
            RedirectStandardError = false,
            RedirectStandardInput = false,
        };
        psi.ArgumentList.Add("-c");
        if (logToFile)
        {
            psi.ArgumentList.Add("/bin/sh -c \"$1\" </dev/null >\"$2\" 2>&1");
            psi.ArgumentList.Add("sh");
            psi.ArgumentList.Add(command);
            psi.ArgumentList.Add(log!);
        }
        else
        {
            psi.ArgumentList.Add("/bin/sh -c \"$1\" </dev/null 2>&1");
            psi.ArgumentList.Add("sh");
            psi.ArgumentList.Add(command);
        }
        psi.Environment["RECONCILER_HOST"] = Host.Name;
        if (service is not null) psi.Environment["RECONCILER_SERVICE"] = service;
        if (releaseId is not null) psi.Environment["RECONCILER_RELEASE"] = releaseId;
        if (deployRoot is not null) psi.Environment["RECONCILER_DEPLOY_PATH"] = deployRoot;

        using var process = Process.Start(psi) ?? throw new HostStepException(Host.Name, "command", "could not start /bin/sh");
        var output = logToFile ? null : process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
            ct.ThrowIfCancellationRequested();
            return CommandResult.Timeout(timeout);
        }
        string text;
        if (output is not null)
            // A background child may keep our pipe open after the shell exited: do not wait for it.
            text = await Task.WhenAny(output, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) == output
                ? await output
                : "(output is held open by a background process)";
        else
            // Not cut here: the engine cleans secrets from the whole output first, then bounds it (SecretRedactor).
            text = File.Exists(log) ? await File.ReadAllTextAsync(log, CancellationToken.None) : "";
        return new CommandResult(process.ExitCode, text);
    }

    private static void DeleteTree(string path)
    {
        var info = new DirectoryInfo(path);
        if (info.LinkTarget is not null) info.Delete();
        else if (info.Exists) info.Delete(recursive: true);
        else if (File.Exists(path)) File.Delete(path);
    }

    // DllImport rather than LibraryImport: the latter's generated code needs AllowUnsafeBlocks project-wide.
    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int rename([MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath);
}
