using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Reconciler.Engine.Tests.Git;

/// <summary>
/// A real OpenSSH server on 127.0.0.1 (a free high port) serving Git over ssh from the test's own files, with a
/// generated host key and client key. <see cref="SshCommand"/> is what core.sshCommand must be for a client to reach
/// it with the pinned host key. The process is killed on Dispose.
/// </summary>
internal sealed class SshGitServer : IDisposable
{
    private readonly Process _sshd;
    public int Port { get; }
    public string SshCommand { get; }

    public SshGitServer(string dir)
    {
        Directory.CreateDirectory(dir);
        string P(string name) => Path.Combine(dir, name);
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", P("host_key"));
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", P("client_key"));
        File.Copy(P("client_key.pub"), P("authorized_keys"));
        Port = FreePort();
        File.WriteAllText(P("sshd_config"), $"""
            Port {Port}
            ListenAddress 127.0.0.1
            HostKey {P("host_key")}
            AuthorizedKeysFile {P("authorized_keys")}
            PidFile {P("sshd.pid")}
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            """);
        var hostKey = File.ReadAllText(P("host_key.pub")).Trim();
        File.WriteAllText(P("known_hosts"), $"[127.0.0.1]:{Port} {hostKey}\n");
        // libgit2 runs core.sshCommand as one program (no shell): a wrapper script carries the options.
        SshCommand = P("ssh-wrapper");
        File.WriteAllText(SshCommand, $"#!/bin/sh\nexec ssh -i '{P("client_key")}' -o IdentitiesOnly=yes -o BatchMode=yes " +
                                      $"-o UserKnownHostsFile='{P("known_hosts")}' -o StrictHostKeyChecking=yes \"$@\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(SshCommand, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        _sshd = Process.Start(new ProcessStartInfo("/usr/sbin/sshd", ["-D", "-e", "-f", P("sshd_config")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _sshd.ErrorDataReceived += (_, _) => { };
        _sshd.BeginErrorReadLine();
        WaitForPort();
    }

    private void WaitForPort()
    {
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (Environment.TickCount64 < deadline && !_sshd.HasExited)
            {
                Thread.Yield();
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed: {p.StandardError.ReadToEnd()}");
    }

    public void Dispose()
    {
        try { _sshd.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _sshd.WaitForExit(5000);
        _sshd.Dispose();
    }
}
