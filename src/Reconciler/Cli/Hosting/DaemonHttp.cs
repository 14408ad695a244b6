using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Reconciler.Cli;
using Reconciler.State;

namespace Reconciler.Daemon;

/// <summary>
/// The daemon's HTTP side (Kestrel, minimal APIs), bound only to the --listen address:
/// POST /hooks/git (HMAC-SHA256 like GitHub's X-Hub-Signature-256, secret from RECONCILER_WEBHOOK_SECRET) triggers
/// a fetch at once; GET /healthz; GET /status (JSON); GET / (the status page, HTML: <see cref="Views.StatusPageView"/>).
/// </summary>
public sealed class DaemonHttp : IAsyncDisposable
{
    public const string SignatureHeader = "X-Hub-Signature-256";
    public const long MaxBodyBytes = 1024 * 1024;   // GitHub push payloads are far smaller; anything bigger is refused (413)

    private readonly WebApplication _app;

    public Uri Address { get; }

    private DaemonHttp(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Parses "127.0.0.1:8080" or "[::1]:8080" (port 0 = any free port).</summary>
    public static IPEndPoint ParseListen(string text)
    {
        if (!IPEndPoint.TryParse(text, out var endpoint) || text.LastIndexOf(':') < 0 || endpoint.Port < 0)
            throw new UserError($"--listen '{text}' is not an address:port. Use e.g. --listen 127.0.0.1:8080 " +
                                "(an IP address, not a host name; 0.0.0.0 to listen on every interface).");
        return endpoint;
    }

    /// <param name="page">What the status page shows; null: the daemon's own status only (no store reads).</param>
    public static async Task<DaemonHttp> StartAsync(IPEndPoint listen, GitOpsDaemon daemon, string? webhookSecret, CancellationToken ct,
        IStatusPageSource? page = null)
    {
        page ??= new StatusPageSource(daemon, TimeProvider.System);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();                                   // the daemon writes its own log lines
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();     // signals are the daemon's business, not the host's
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(listen);
            k.Limits.MaxRequestBodySize = MaxBodyBytes;
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var secret = string.IsNullOrEmpty(webhookSecret) ? null : Encoding.UTF8.GetBytes(webhookSecret);

        app.MapPost("/hooks/git", Respond(async http =>
        {
            if (secret is null)
                return Results.Text("webhooks are disabled: set RECONCILER_WEBHOOK_SECRET for `reconciler run`.\n", statusCode: StatusCodes.Status403Forbidden);
            byte[] body;
            try
            {
                body = await ReadBodyAsync(http.Request, http.RequestAborted);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Results.Text("payload too large\n", statusCode: StatusCodes.Status413PayloadTooLarge);
            }
            if (!VerifySignature(secret, body, http.Request.Headers[SignatureHeader].ToString()))
                return Results.Text($"missing or invalid {SignatureHeader} signature\n", statusCode: StatusCodes.Status401Unauthorized);
            daemon.Trigger();
            return Results.Text("fetch triggered\n", statusCode: StatusCodes.Status202Accepted);
        }));
        app.MapGet("/healthz", Respond(_ => Task.FromResult(Results.Text("ok\n"))));
        app.MapGet("/status", Respond(async http => Results.Text(StatusJson(await daemon.GetStatusAsync(http.RequestAborted)), "application/json; charset=utf-8")));
        app.MapGet("/", Respond(async http =>
        {
            var response = http.Response;
            // Read-only and script-free: the policy forbids every script, so even injected markup could not run one.
            response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'";
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers.CacheControl = "no-store";
            return Results.Text(Views.StatusPageView.Render(await page.ReadAsync(http.RequestAborted)), "text/html; charset=utf-8");
        }));

        await app.StartAsync(ct);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DaemonHttp(app, new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    /// <summary>An endpoint as a plain <see cref="RequestDelegate"/>: a Delegate handler would be bound by the minimal API's
    /// reflection-based delegate factory, which Native AOT (the shipped build) does not support.</summary>
    private static RequestDelegate Respond(Func<HttpContext, Task<IResult>> handler) =>
        async http => await (await handler(http)).ExecuteAsync(http);

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes)
            throw new BadHttpRequestException("too large", StatusCodes.Status413PayloadTooLarge);
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);   // Kestrel enforces MaxRequestBodySize for chunked bodies
        return buffer.ToArray();
    }

    /// <summary>"sha256=" + hex(HMAC-SHA256(secret, body)), compared in constant time.</summary>
    public static bool VerifySignature(byte[] secret, byte[] body, string? header)
    {
        const string prefix = "sha256=";
        if (string.IsNullOrEmpty(header) || !header.StartsWith(prefix, StringComparison.Ordinal)) return false;
        byte[] given;
        try
        {
            given = Convert.FromHexString(header.AsSpan(prefix.Length));
        }
        catch (FormatException)
        {
            return false;
        }
        var expected = HMACSHA256.HashData(secret, body);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    public static string Sign(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }

    /// <summary>No console lifetime: SIGTERM goes to the daemon, which stops the server after the apply is safe.</summary>
    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>/status as documented (docs/cli/run.md): the engine's status, each last result with the exit code
    /// `reconciler apply` would have ended with next to its failure kind.</summary>
    internal static string StatusJson(DaemonStatus status)
    {
        var json = System.Text.Json.JsonSerializer.SerializeToNode(status, ReconcilerJson.Options.InfoFor<DaemonStatus>())!;
        var environments = json["environments"]!.AsArray();
        for (var i = 0; i < status.Environments.Length; i++)
            if (status.Environments[i].LastResult is { } last && environments[i]!["lastResult"] is System.Text.Json.Nodes.JsonObject node)
                node["exitCode"] = ExitCodes.For(last.Failure);
        return json.ToJsonString(ReconcilerJson.Options);
    }
}
