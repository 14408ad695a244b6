using System.Text.Json.Serialization;
using Reconciler.Drivers.ConsulKv;

namespace Reconciler.Consul;

/// <summary>Compile-time metadata for Consul's HTTP API as it writes it (PascalCase, the serializer's default options) and
/// for the consul-kv driver's staged release record, which is written with the same defaults. The shipped build is
/// Native AOT, where reflection metadata is off.</summary>
[JsonSerializable(typeof(List<KvWire>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(List<TxnOpWire>))]
[JsonSerializable(typeof(TxnResponseWire))]
[JsonSerializable(typeof(SessionCreateWire))]
[JsonSerializable(typeof(SessionIdWire))]
[JsonSerializable(typeof(List<SessionInfoWire>))]
[JsonSerializable(typeof(List<ServiceEntryWire>))]
[JsonSerializable(typeof(ConsulKvDriver.StagedConfig))]
internal sealed partial class ConsulJsonContext : JsonSerializerContext;
