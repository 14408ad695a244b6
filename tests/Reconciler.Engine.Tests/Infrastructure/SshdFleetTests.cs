using Xunit;
using Renci.SshNet;

namespace Reconciler.Engine.Tests.Infrastructure;

[Trait("Category", "EndToEnd")]
public sealed class SshdFleetTests
{
    [Fact]
    public async Task Each_host_accepts_the_client_key_presents_its_pinned_key_and_has_a_private_srv()
    {
        await using var fleet = await SshdFleet.StartAsync(2);
        for (var i = 0; i < fleet.Hosts.Length; i++)
        {
            var host = fleet.Hosts[i];
            string? presented = null;
            using var client = new SshClient(host.Address, host.Port, host.User, new PrivateKeyFile(fleet.ClientKeyPath));
            client.HostKeyReceived += (_, e) =>
            {
                presented = $"{e.HostKeyName} {Convert.ToBase64String(e.HostKey)}";
                e.CanTrust = true;
            };
            await client.ConnectAsync(TestContext.Timeout);
            Assert.Equal(host.HostKey, presented);
            using var cmd = client.CreateCommand($"mkdir -p /srv/probe && echo {i} > /srv/probe/who");
            await cmd.ExecuteAsync(TestContext.Timeout);
            Assert.Equal(0, cmd.ExitStatus);
        }
        Assert.Equal("0\n", File.ReadAllText(fleet.OnHost(0, "/srv/probe/who")));
        Assert.Equal("1\n", File.ReadAllText(fleet.OnHost(1, "/srv/probe/who")));
        Assert.NotEqual(fleet.HostPublicKeys[0], fleet.HostPublicKeys[1]);
    }

    [Fact]
    public async Task Dispose_stops_every_sshd()
    {
        var fleet = await SshdFleet.StartAsync(1);
        var pids = fleet.ProcessIds;
        Assert.NotEmpty(pids);
        await fleet.DisposeAsync();
        // Checked by process, not by port: tests run in parallel and another fleet may take the freed port at once.
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} still runs after Dispose"));
        Assert.False(Directory.Exists(fleet.Directory));
    }
}
