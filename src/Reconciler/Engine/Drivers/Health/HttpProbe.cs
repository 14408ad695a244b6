using System.Net.Http;
using System.Net.Sockets;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Health;

/// <summary>GET the check's URL; healthy when the status is the expected one (default 200). Redirects are not
/// followed: a health endpoint that redirects is reported, not silently accepted.</summary>
public sealed class HttpProbe(HttpClient client) : IHealthProbe
{
    /// <summary>A client for probes: no redirects, no connection reuse across hosts beyond the pool's default,
    /// timeouts come from each check.</summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
    {
        var url = Interpolation.ExpandText(check.Url ?? "", HealthProbes.Variables(context));
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            return new ProbeResult(false, $"http check: '{ReleaseLayout.Printable(url)}' is not an http(s) URL");
        var expected = check.ExpectStatus ?? 200;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(check.Timeout);
        try
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return status == expected
                ? new ProbeResult(true, $"GET {uri} -> {status}")
                : new ProbeResult(false, $"GET {uri} -> {status}, expected {expected}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeResult(false, $"GET {uri}: no response within {check.Timeout.TotalMilliseconds:0}ms");
        }
        catch (HttpRequestException e)
        {
            var reason = e.InnerException is SocketException s ? s.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                _ => s.Message,
            } : e.Message;
            return new ProbeResult(false, $"GET {uri}: {reason}");
        }
    }
}
