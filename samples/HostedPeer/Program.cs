// A worker service that embeds a ZooKeeper peer: zkCli.sh -server 127.0.0.1:2181 works against it, Prometheus
// scrapes http://127.0.0.1:7000/metrics, and its health is checked and logged every few seconds.
//   dotnet run --project samples/HostedPeer
// Any setting can be changed on the command line: --ZooKeeper:Peer:ClientPort=2182 --ZooKeeper:Prometheus:HttpPort=0
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Zk.Embedded.Hosting;
using Zk.Samples.HostedPeer;

// appsettings.json is read from beside the program, so it is found whatever the current directory (dataDir stays relative to it).
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddZooKeeperPeer(builder.Configuration.GetSection("ZooKeeper"));
builder.Services.AddHealthChecks().AddZooKeeperPeer();
builder.Services.AddSingleton<IHealthCheckPublisher, HealthLog>();
builder.Services.Configure<HealthCheckPublisherOptions>(o => (o.Delay, o.Period) = (TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)));
builder.Services.AddHostedService<Heartbeat>();
await builder.Build().RunAsync();
