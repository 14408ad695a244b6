using System.Net.Sockets;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Health;

/// <summary>Healthy when a TCP connection to address:port (address defaults to the host's) opens in time.</summary>
public sealed class TcpProbe : IHealthProbe
{
    public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
    {
        var address = Interpolation.ExpandText(check.Address ?? "${host.address}", HealthProbes.Variables(context));
        if (check.Port is not (>= 1 and <= 65535) || check.Port is not { } port)
            return new ProbeResult(false, $"tcp check: port {check.Port} is not in 1-65535");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(check.Timeout);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(address, port, timeout.Token);
            return new ProbeResult(true, $"tcp {address}:{port} open");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeResult(false, $"tcp {address}:{port}: no connection within {check.Timeout.TotalMilliseconds:0}ms");
        }
        catch (SocketException e)
        {
            return new ProbeResult(false, $"tcp {address}:{port}: {(e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.Message)}");
        }
    }
}
