using System.Net.Sockets;
using Renci.SshNet.Common;
using Renci.SshNet.Messages.Transport;

namespace Reconciler.Drivers.Ssh;

/// <summary>SSH.NET's exceptions in words: which ones mean the connection dropped (the step is run again on a new one),
/// and a short cause for a message that already names the host. SSH.NET's own texts end with a period ("Client not
/// connected."); the cause never does, so a message built from it never ends in "..".</summary>
internal static class SshErrors
{
    /// <summary>The connection (or its channel) is gone: SSH.NET's connection errors, a reset socket, a disposed client,
    /// or an SSH error that is not a timeout or a refusal to authenticate.</summary>
    public static bool IsConnectionLost(Exception e) => e switch
    {
        SshAuthenticationException or SshOperationTimeoutException or SshPassPhraseNullOrEmptyException or ProxyException => false,
        SshConnectionException or SocketException or ObjectDisposedException or SshException => true,
        IOException { InnerException: SocketException } => true,
        _ => false,
    };

    public static string Describe(Exception e)
    {
        var text = e switch
        {
            SshConnectionException c => c.DisconnectReason switch
            {
                DisconnectReason.ConnectionLost or DisconnectReason.None => $"the connection was closed ({Own(c.Message)})",
                var reason => $"the server disconnected ({reason}: {Own(c.Message)})",
            },
            SocketException s => s.SocketErrorCode switch
            {
                SocketError.ConnectionReset => "the connection was reset by the host",
                SocketError.ConnectionAborted => "the connection was aborted",
                SocketError.TimedOut => "the connection timed out",
                SocketError.ConnectionRefused => "connection refused (is sshd running and listening on that port?)",
                _ => $"network error ({Own(s.Message)})",
            },
            ObjectDisposedException => "the connection was already closed",
            SshOperationTimeoutException t => $"the host did not answer in time ({Own(t.Message)})",
            SshException x => $"SSH error ({Own(x.Message)})",
            _ => Own(e.Message),
        };
        return text;
    }

    /// <summary>SSH.NET's text without its closing period, lower-cased at the start to sit inside our sentence.</summary>
    private static string Own(string message)
    {
        var text = message.Trim().TrimEnd('.');
        return text.Length > 0 ? char.ToLowerInvariant(text[0]) + text[1..] : "no detail";
    }
}

/// <summary>A session's connection dropped while a step ran on it; the step is run again on a new one
/// (<see cref="SshHostDriver.ReconnectPipeline"/>). Never leaves the driver: a step that runs out of reconnects fails
/// with a <see cref="HostStepException"/> naming the host.</summary>
internal sealed class SshConnectionLostException(string message, Exception inner) : Exception(message, inner);
