using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Reconciler.Cli;

namespace Reconciler.Telemetry;

/// <summary>
/// Wires OpenTelemetry exporters for one CLI invocation; the core only emits (ReconcilerTelemetry). `--otel console`
/// prints spans and metrics to stdout; OTEL_EXPORTER_OTLP_ENDPOINT (with the other standard OTEL_* variables, read
/// by the exporter itself, e.g. OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) sends them over OTLP. The resource names
/// the service, its version and the host. Disposing exports what is left, once (docs/operations.md, "Telemetry").
/// </summary>
public sealed class TelemetrySetup : IDisposable
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    private readonly TracerProvider? _traces;
    private readonly MeterProvider? _metrics;

    private TelemetrySetup(TracerProvider? traces, MeterProvider? metrics)
    {
        _traces = traces;
        _metrics = metrics;
    }

    /// <param name="otel">"console", "none" or null (OTLP only when the endpoint variable is set).</param>
    public static TelemetrySetup Start(string? otel, string serviceName = "reconciler") =>
        Start(otel, serviceName, otlpHttpEndpoint: null);

    /// <param name="otlpHttpEndpoint">Set: OTLP over HTTP/protobuf to this base URL (…/v1/traces, …/v1/metrics) instead of
    /// what the OTEL_* variables say; for tests, which cannot set process-wide variables safely.</param>
    internal static TelemetrySetup Start(string? otel, string serviceName, Uri? otlpHttpEndpoint)
    {
        var console = otel switch
        {
            null or "" or "none" => false,
            "console" => true,
            _ => throw new UserError($"--otel {otel}: expected 'console' or 'none' (OTLP is enabled by setting {OtlpEndpointVariable})."),
        };
        var otlp = otel != "none" && (otlpHttpEndpoint is not null || !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(OtlpEndpointVariable)));
        if (!console && !otlp) return new TelemetrySetup(null, null);

        var resource = ResourceBuilder.CreateDefault()
            // The version without the commit: a resource attribute that changed with every build would start new series.
            .AddService(serviceName, serviceVersion: CliApp.BuiltFrom().Version, autoGenerateServiceInstanceId: false)
            .AddAttributes([new("host.name", Environment.MachineName)]);
        var traces = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(ReconcilerTelemetry.Name);
        var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(ReconcilerTelemetry.Name);
        if (console)
        {
            traces.AddConsoleExporter();
            metrics.AddConsoleExporter();
        }
        if (otlp)
        {
            traces.AddOtlpExporter(o => Configure(o, otlpHttpEndpoint, "v1/traces"));
            metrics.AddOtlpExporter(o => Configure(o, otlpHttpEndpoint, "v1/metrics"));
        }
        return new TelemetrySetup(traces.Build(), metrics.Build());
    }

    private static void Configure(OtlpExporterOptions options, Uri? baseUrl, string signalPath)
    {
        if (baseUrl is null) return; // the exporter reads OTEL_EXPORTER_OTLP_* itself
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = new Uri(baseUrl, signalPath);
    }

    /// <summary>Shutting a provider down exports what it holds. A ForceFlush before it exported the same cumulative
    /// metric points a second time, so each metric reached the collector twice.</summary>
    public void Dispose()
    {
        _traces?.Dispose();
        _metrics?.Dispose();
    }
}
