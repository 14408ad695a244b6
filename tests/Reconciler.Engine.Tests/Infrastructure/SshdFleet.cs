using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Reconciler.Schema.Model;

namespace Reconciler.Engine.Tests.Infrastructure;

/// <summary>
/// N real OpenSSH servers on 127.0.0.1 high ports standing in for N hosts. Each runs
/// <c>/usr/sbin/sshd -D -e -f CONFIG</c> as the current user with its own generated ed25519 host key and one
/// shared client key (ssh-keygen). Every sshd lives in its own mount namespace with a per-host directory
/// bind-mounted over <see cref="IsolatedRoot"/> (/srv), so the same absolute deploy path (e.g. /srv/api) is a
/// different directory on every "host", as on real machines. Read what a host wrote with <see cref="OnHost"/>.
/// Dispose kills every sshd and deletes the scratch directory.
/// <code>
/// await using var fleet = await SshdFleet.StartAsync(4);
/// var driver = new SshHostDriver(new SshDriverOptions { PrivateKeyPath = fleet.ClientKeyPath });
/// var session = await driver.OpenAsync(fleet.Hosts[0], ct);   // HostKey is pinned
/// File.ReadAllText(fleet.OnHost(0, "/srv/api/current/config.json"));
/// </code>
/// Needs root (or CAP_SYS_ADMIN) for the mount namespaces; tests run as root here and in CI.
/// HOME is an empty per-host directory (sshd SetEnv), so commands do not run the login user's ~/.bashrc: on a
/// developer machine that file can cost more than the command (pyenv init: ~0.6 s per command measured here),
/// while a server's usually costs nothing.
/// </summary>
public sealed class SshdFleet : IAsyncDisposable
{
    /// <summary>The directory that is private to each host. Deploy paths in tests live under it.</summary>
    public const string IsolatedRoot = "/srv";

    /// <summary>Shell lines that drop the SSH connection they run in, for real: they walk up from the shell to the sshd
    /// process serving this session (an sshd whose parent is the listening sshd) and kill -9 it. Used by restart
    /// scripts of the fault tests and the soak benchmark; the caller decides when (a marker file, a host number).</summary>
    public const string KillOwnConnection = """
        p=$$
        while [ "$p" -gt 1 ]; do
          read -r _ comm _ pp _ < /proc/$p/stat
          read -r _ pcomm _ ppp _ < /proc/$pp/stat
          read -r _ ppcomm _ < /proc/$ppp/stat
          if [ "$comm" = "(sshd)" ] && [ "$pcomm" = "(sshd)" ] && [ "$ppcomm" != "(sshd)" ]; then kill -9 "$p"; exit 0; fi
          p=$pp
        done

        """;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly string _dir;
    private readonly ConcurrentDictionary<int, Process> _processes = new();

    /// <summary>Process ids of the running host processes (for tests of the fleet itself).</summary>
    internal IReadOnlyList<int> ProcessIds => [.. _processes.Values.Select(p => p.Id)];
    private readonly string[] _hostRoots;

    private SshdFleet(string dir, string clientKeyPath, string[] hostRoots, ImmutableArray<string> hostPublicKeys)
    {
        _dir = dir;
        ClientKeyPath = clientKeyPath;
        _hostRoots = hostRoots;
        HostPublicKeys = hostPublicKeys;
    }

    /// <summary>The hosts, named PREFIX-1..PREFIX-N, each with its public host key pinned (full key line).</summary>
    public ImmutableArray<HostSpec> Hosts { get; private set; } = [];

    /// <summary>"ssh-ed25519 AAAA..." of each host, same order as <see cref="Hosts"/>.</summary>
    public ImmutableArray<string> HostPublicKeys { get; }

    /// <summary>Private key (OpenSSH format, no passphrase) authorized on every host.</summary>
    public string ClientKeyPath { get; }

    /// <summary>Scratch directory of this fleet (keys, configs, logs, host filesystems).</summary>
    public string Directory => _dir;

    public static async Task<SshdFleet> StartAsync(int count, string namePrefix = "host", CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (!File.Exists("/usr/sbin/sshd"))
            throw new InvalidOperationException("SshdFleet needs /usr/sbin/sshd: run scripts/install-deps.sh (installs openssh-server).");
        // sshd refuses to start without its privilege separation directory.
        System.IO.Directory.CreateDirectory("/run/sshd");

        var dir = System.IO.Directory.CreateTempSubdirectory("reconciler-sshd-").FullName;
        SshdFleet? fleet = null;
        try
        {
            var clientKey = Path.Combine(dir, "client_ed25519");
            var keygen = new List<Task> { KeyGenAsync(clientKey, ct) };
            var hostKeys = Enumerable.Range(1, count).Select(i => Path.Combine(dir, $"host_{i}_ed25519")).ToArray();
            keygen.AddRange(hostKeys.Select(k => KeyGenAsync(k, ct)));
            await Task.WhenAll(keygen);
            File.Copy(clientKey + ".pub", Path.Combine(dir, "authorized_keys"));

            var roots = new string[count];
            var hosts = ImmutableArray.CreateBuilder<HostSpec>(count);
            var publicKeys = ImmutableArray.CreateBuilder<string>(count);
            for (var i = 0; i < count; i++)
            {
                roots[i] = System.IO.Directory.CreateDirectory(Path.Combine(dir, $"host-{i + 1}", "root")).FullName;
                var pub = (await File.ReadAllTextAsync(hostKeys[i] + ".pub", ct)).Trim();
                var parts = pub.Split(' ');
                publicKeys.Add($"{parts[0]} {parts[1]}");
            }

            var started = fleet = new SshdFleet(dir, clientKey, roots, publicKeys.ToImmutable());
            var ports = await Task.WhenAll(Enumerable.Range(0, count).Select(i => started.StartHostAsync(i, hostKeys[i], ct)));
            for (var i = 0; i < count; i++)
                hosts.Add(new HostSpec($"{namePrefix}-{i + 1}", "127.0.0.1", ports[i], Environment.UserName,
                    publicKeys[i], null, ImmutableSortedDictionary<string, string>.Empty));
            fleet.Hosts = hosts.ToImmutable();
            return fleet;
        }
        catch
        {
            if (fleet is not null) await fleet.DisposeAsync();
            else TryDelete(dir);
            throw;
        }
    }

    /// <summary>Where the file that host <paramref name="index"/> sees at <paramref name="pathOnHost"/> (under /srv) is
    /// on this machine.</summary>
    public string OnHost(int index, string pathOnHost)
    {
        if (pathOnHost != IsolatedRoot && !pathOnHost.StartsWith(IsolatedRoot + "/", StringComparison.Ordinal))
            throw new ArgumentException($"only paths under {IsolatedRoot} are private to a host: {pathOnHost}", nameof(pathOnHost));
        return Path.Combine(_hostRoots[index], pathOnHost[IsolatedRoot.Length..].TrimStart('/'));
    }

    /// <summary>A host whose port accepts no connection (nothing listens there): a host that is down.</summary>
    public static HostSpec DownHost(string name = "down-1")
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new HostSpec(name, "127.0.0.1", port, Environment.UserName, null, null, ImmutableSortedDictionary<string, string>.Empty);
    }

    /// <summary>Stops one host's sshd (already open connections drop too): the host goes down mid-test.</summary>
    public void Stop(int index)
    {
        if (_processes.TryRemove(index, out var p)) Kill(p);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var index in _processes.Keys.ToArray()) Stop(index);
        TryDelete(_dir);
        return ValueTask.CompletedTask;
    }

    private async Task<int> StartHostAsync(int index, string hostKey, CancellationToken ct)
    {
        var hostDir = Path.Combine(_dir, $"host-{index + 1}");
        Exception? last = null;
        // A free port found now can be taken before sshd binds it; try a few.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var port = FreePort();
            var config = Path.Combine(hostDir, "sshd_config");
            var home = System.IO.Directory.CreateDirectory(Path.Combine(hostDir, "home")).FullName;
            await File.WriteAllTextAsync(config, $"""
                Port {port}
                ListenAddress 127.0.0.1
                HostKey {hostKey}
                PidFile {Path.Combine(hostDir, "sshd.pid")}
                AuthorizedKeysFile {Path.Combine(_dir, "authorized_keys")}
                StrictModes no
                UsePAM no
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                Subsystem sftp internal-sftp
                MaxStartups 200:30:400
                MaxSessions 64
                LogLevel ERROR
                SetEnv HOME={home}

                """, ct);
            var log = Path.Combine(hostDir, "sshd.log");
            // unshare execs sh in a private mount namespace; sh bind-mounts this host's root over /srv and execs
            // timeout, whose child is sshd; Kill(entireProcessTree) stops both.
            var psi = new ProcessStartInfo("/usr/bin/unshare")
            {
                ArgumentList =
                {
                    "--mount", "--propagation", "private", "/bin/sh", "-c",
                    // timeout: if this process dies without disposing the fleet, its sshd still go away.
                    "mount --bind \"$1\" \"$2\" && exec timeout -s KILL 2h /usr/sbin/sshd -D -e -f \"$3\" 2>>\"$4\"",
                    "sh", _hostRoots[index], IsolatedRoot, config, log,
                },
                UseShellExecute = false,
                RedirectStandardInput = true,
            };
            System.IO.Directory.CreateDirectory(IsolatedRoot);
            var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start sshd");
            _processes[index] = process;
            var deadline = DateTime.UtcNow + StartTimeout;
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                if (await AcceptsAsync(port, ct)) return port;
                await Task.Delay(20, ct);
            }
            Kill(process);
            _processes.TryRemove(index, out _);
            var logText = File.Exists(log) ? await File.ReadAllTextAsync(log, ct) : "";
            last = new InvalidOperationException(
                $"sshd for host {index + 1} did not accept connections on 127.0.0.1:{port} (exit: {(process.HasExited ? process.ExitCode : "still running")}). " +
                $"Log: {logText.Trim()} (mount namespaces need root or CAP_SYS_ADMIN)");
        }
        throw last!;
    }

    private static async Task<bool> AcceptsAsync(int port, CancellationToken ct)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (SocketException) { return false; }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return false; }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task KeyGenAsync(string path, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("ssh-keygen")
        {
            ArgumentList = { "-q", "-t", "ed25519", "-N", "", "-C", "reconciler-test", "-f", path },
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start ssh-keygen");
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0) throw new InvalidOperationException($"ssh-keygen failed: {await stderr}");
    }

    private static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { /* already gone */ }
        finally { p.Dispose(); }
    }

    private static void TryDelete(string dir)
    {
        try { System.IO.Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
