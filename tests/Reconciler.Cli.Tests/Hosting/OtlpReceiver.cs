using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;

namespace Reconciler.Cli.Tests.Hosting;

/// <summary>
/// An OTLP/HTTP receiver on loopback (POST /v1/traces, /v1/metrics with protobuf bodies) that keeps every request body,
/// and a reader for what it got. The OTLP message classes are not served as a package here (OpenTelemetry.Proto), so
/// messages are read field by field with Google.Protobuf's CodedInputStream against the field numbers of
/// opentelemetry-proto (collector/*/v1, metrics/v1, trace/v1, common/v1). Stops itself on dispose.
/// </summary>
internal sealed class OtlpReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public OtlpReceiver()
    {
        for (var attempt = 0; ; attempt++)
        {
            using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                Url = new Uri($"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/");
            }
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add(Url.ToString());
            try { _listener.Start(); break; }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        _loop = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext c;
                try { c = await _listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                using var body = new MemoryStream();
                await c.Request.InputStream.CopyToAsync(body);
                Requests.Enqueue((c.Request.Url!.AbsolutePath, c.Request.ContentType ?? "", body.ToArray()));
                c.Response.StatusCode = 200;
                c.Response.ContentType = "application/x-protobuf";
                c.Response.Close();
            }
        });
    }

    public Uri Url { get; private set; } = null!;

    public ConcurrentQueue<(string Path, string ContentType, byte[] Body)> Requests { get; } = new();

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(10));
    }
}

/// <summary>One protobuf message as (field number -> values): varints and fixed values as numbers, length-delimited
/// values as bytes (a string or a nested message: the caller knows which from the schema).</summary>
internal sealed class ProtoMessage
{
    private readonly List<(int Field, object Value)> _fields = [];

    public ProtoMessage(ByteString bytes)
    {
        var input = new CodedInputStream(bytes.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            object value = WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.Varint => input.ReadUInt64(),
                WireFormat.WireType.Fixed64 => input.ReadFixed64(),
                WireFormat.WireType.Fixed32 => input.ReadFixed32(),
                WireFormat.WireType.LengthDelimited => input.ReadBytes(),
                var other => throw new InvalidDataException($"wire type {other} in field {field}"),
            };
            _fields.Add((field, value));
        }
    }

    public static ProtoMessage Parse(byte[] bytes) => new(ByteString.CopyFrom(bytes));

    public IEnumerable<ProtoMessage> Messages(int field) => _fields.Where(f => f.Field == field).Select(f => new ProtoMessage((ByteString)f.Value));

    public ProtoMessage? Message(int field) => Messages(field).FirstOrDefault();

    public string? String(int field) => _fields.Where(f => f.Field == field).Select(f => ((ByteString)f.Value).ToStringUtf8()).FirstOrDefault();

    public ulong? Number(int field) => _fields.Where(f => f.Field == field).Select(f => f.Value is ulong u ? u : (ulong?)null).FirstOrDefault();

    public bool Has(int field) => _fields.Any(f => f.Field == field);

    /// <summary>common/v1 KeyValue list at <paramref name="field"/> (key 1, value 2: AnyValue with string_value 1),
    /// string values only (others as "").</summary>
    public Dictionary<string, string> Attributes(int field) =>
        Messages(field).ToDictionary(kv => kv.String(1)!, kv => kv.Message(2)?.String(1) ?? "");
}
