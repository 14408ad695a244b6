using System.Globalization;
using Reconciler.Drivers;
using Reconciler.Drivers.Ssh;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

/// <summary>Connections opened ahead of the first step (<see cref="SshWarmConnections"/>, issues 13 and 17), on real sshd:
/// the first session takes the connection and nothing runs on the host before a step asks; a host that cannot be reached
/// or presents another key fails its first session exactly as a session's own connect does; what nobody took is closed.
/// The connections are counted in the kernel's table of established TCP connections to each host's port.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "EndToEnd")]
public sealed class SshWarmConnectionsTests(FourHostFleet fixture) : IClassFixture<FourHostFleet>, IDisposable
{
    private readonly SshdFleet _fleet = fixture.Fleet;
    private readonly TempDir _temp = new();
    private static CancellationToken Ct => TestContext.Timeout;

    public void Dispose() => _temp.Dispose();

    private SshHostDriver Driver(SshWarmConnections? warm) => new(new SshDriverOptions
    {
        PrivateKeyPath = _fleet.ClientKeyPath,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        Warm = warm,
    });

    [Fact]
    public async Task The_first_session_takes_the_connection_opened_ahead_and_nothing_runs_before_a_step_asks()
    {
        var host = _fleet.Hosts[0];
        await using var warm = new SshWarmConnections();
        await using var driver = Driver(warm);
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        warm.Start([host], async (h, ct) =>
        {
            var client = await driver.ConnectClientAsync(h, ct);
            opened.SetResult();
            return client;
        });
        await opened.Task.WaitAsync(Ct);

        Assert.Equal(1, EstablishedTo(host.Port));
        Assert.Equal(0, driver.Execs);

        var session = await driver.OpenAsync(host, Ct);
        Assert.Equal("hi\n", (await session.RunAsync("echo hi", TimeSpan.FromSeconds(10), Ct)).Output);
        Assert.Equal(1, EstablishedTo(host.Port));   // the connection opened ahead, not a second one
        Assert.Equal(1, driver.Execs);
        Assert.Equal(0, warm.Pending);
    }

    [Fact]
    public async Task A_host_that_is_down_or_presents_another_key_fails_its_first_session_as_its_own_connect_does()
    {
        var down = SshdFleet.DownHost();
        var wrongPin = _fleet.Hosts[1] with { HostKey = _fleet.HostPublicKeys[2] };
        await using var warm = new SshWarmConnections();
        await using var ahead = Driver(warm);
        ahead.Preconnect([down, wrongPin]);
        await using var plain = Driver(null);

        foreach (var host in new[] { down, wrongPin })
        {
            var expected = await Assert.ThrowsAsync<HostStepException>(() => plain.OpenAsync(host, Ct));
            var got = await Assert.ThrowsAsync<HostStepException>(() => ahead.OpenAsync(host, Ct));
            Assert.Equal(expected.Message, got.Message);
            Assert.Equal(expected.Kind, got.Kind);
        }
        Assert.Contains("HOST KEY MISMATCH", (await Assert.ThrowsAsync<HostStepException>(() => ahead.OpenAsync(wrongPin, Ct))).Message);
        Assert.Equal(0, warm.Pending);
    }

    [Fact]
    public async Task Connections_no_driver_took_are_closed_when_the_drivers_are_disposed()
    {
        var (taken, untaken) = (_fleet.Hosts[2], _fleet.Hosts[3]);
        var drivers = new HostDrivers(new HostDriverOptions { LocalRoot = _temp.Path, SshKeyPath = _fleet.ClientKeyPath });
        drivers.Preconnect([taken, untaken]);
        await UntilAsync(() => EstablishedTo(untaken.Port) == 1);

        await using (var driver = drivers.Create(DriverKind.Ssh))
        {
            var session = await driver.OpenAsync(taken, Ct);
            Assert.Equal(0, (await session.RunAsync("true", TimeSpan.FromSeconds(10), Ct)).ExitCode);
            Assert.Equal(1, EstablishedTo(taken.Port));
        }
        Assert.Equal(1, EstablishedTo(untaken.Port));

        await drivers.DisposeAsync();
        await UntilAsync(() => EstablishedTo(untaken.Port) == 0);
        await UntilAsync(() => EstablishedTo(taken.Port) == 0);
    }

    /// <summary>Client-side TCP connections to <paramref name="port"/> in state ESTABLISHED (/proc/net/tcp and tcp6, as SSH.NET's
    /// sockets may be dual-mode: the remote address is the third column, the state the fourth, "01").</summary>
    private static int EstablishedTo(int port) => new[] { "/proc/net/tcp", "/proc/net/tcp6" }.SelectMany(f => File.ReadLines(f).Skip(1))
        .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Count(f => f[3] == "01" && int.Parse(f[2].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port);

    private static async Task UntilAsync(Func<bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        while (!condition()) await Task.Delay(20, timeout.Token);
    }
}
