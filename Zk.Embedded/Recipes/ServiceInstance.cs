using System.Text.Json;
using System.Text.Json.Serialization;

namespace Zk.Embedded.Recipes;

/// <summary>
/// One instance of a service, as <see cref="ServiceDiscovery"/> stores it: JSON with the field names of Curator's
/// x-discovery <c>ServiceInstance</c> (name, id, address, port, payload as a string map, registrationTimeUTC).
/// </summary>
/// <param name="Name">the service name (the folder under the base path).</param>
/// <param name="Id">this instance's id, unique within the service (its znode's name).</param>
/// <param name="Address">where clients reach it.</param>
/// <param name="Port">the port there.</param>
/// <param name="Payload">metadata (version, zone, weight, ...); may be empty.</param>
public sealed record ServiceInstance(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("payload")] IReadOnlyDictionary<string, string>? Payload = null)
{
    /// <summary>When the instance registered, ms since the Unix epoch.</summary>
    [JsonPropertyName("registrationTimeUTC")]
    public long RegistrationTimeUtc { get; init; }

    /// <summary>Curator's service type; always DYNAMIC here (an ephemeral registration).</summary>
    [JsonPropertyName("serviceType")]
    public string ServiceType { get; init; } = "DYNAMIC";

    private const string JavaClassKey = "@class";

    internal byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ServiceInstanceJson.Default.ServiceInstance);

    internal static ServiceInstance? FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var instance = JsonSerializer.Deserialize(json, ServiceInstanceJson.Default.ServiceInstance);
            // Curator's Jackson writes the payload's Java class as "@class"; it is type metadata, not the user's payload.
            return instance?.Payload is { } payload && payload.ContainsKey(JavaClassKey)
                ? instance with { Payload = payload.Where(p => p.Key != JavaClassKey).ToDictionary() }
                : instance;
        }
        catch (JsonException)
        {
            return null; // Not an instance this recipe wrote; left out of the view.
        }
    }
}

[JsonSerializable(typeof(ServiceInstance))]
internal sealed partial class ServiceInstanceJson : JsonSerializerContext;
