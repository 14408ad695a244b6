using System.Net.Sockets;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Renci.SshNet.Common;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

/// <summary>Every SSH.NET exception becomes a clear cause inside a message that names the host, and no message ends in
/// ".." (SSH.NET's own texts end with a period, which the old messages doubled: "Client not connected..").</summary>
public sealed class SshErrorsTests
{
    public static TheoryData<Exception, bool, string> Exceptions => new()
    {
        { new SshConnectionException("Client not connected."), true, "the connection was closed (client not connected)" },
        { new SshConnectionException("An established connection was aborted by the server.", Renci.SshNet.Messages.Transport.DisconnectReason.ConnectionLost), true, "the connection was closed" },
        { new SshConnectionException("Too many connections.", Renci.SshNet.Messages.Transport.DisconnectReason.TooManyConnections), true, "the server disconnected (TooManyConnections: too many connections)" },
        { new SocketException((int)SocketError.ConnectionReset), true, "the connection was reset by the host" },
        { new ObjectDisposedException("SshClient"), true, "the connection was already closed" },
        { new SshException("The channel is closed."), true, "SSH error (the channel is closed)" },
        { new SshOperationTimeoutException("Session operation has timed out."), false, "the host did not answer in time (session operation has timed out)" },
        { new SshAuthenticationException("Permission denied (publickey)."), false, "permission denied (publickey)" },
    };

    [Theory]
    [MemberData(nameof(Exceptions))]
    public void Each_SSH_exception_is_classified_and_described_without_a_trailing_period(Exception e, bool lost, string expected)
    {
        Assert.Equal(lost, SshErrors.IsConnectionLost(e));
        var cause = SshErrors.Describe(e);
        Assert.Contains(expected, cause);
        var message = new HostStepException("web-3", "activate", $"connection to 127.0.0.1:2203 lost: {cause}.", e).Message;
        Assert.StartsWith("web-3: activate failed: ", message);
        Assert.DoesNotContain("..", message);
        Assert.False(message.EndsWith('.'), message);
    }
}
