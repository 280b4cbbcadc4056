import * as grpc from '@grpc/grpc-js';
import * as enginerpc from '@pulumi/pulumi/proto/engine_grpc_pb';
import * as engineproto from '@pulumi/pulumi/proto/engine_pb';
import * as resrpc from '@pulumi/pulumi/proto/resource_grpc_pb';
import * as resproto from '@pulumi/pulumi/proto/resource_pb';
import * as provproto from '@pulumi/pulumi/proto/provider_pb';
import { Empty } from 'google-protobuf/google/protobuf/empty_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';

/**
 * A stand-in for the Pulumi engine's two gRPC services that a Node.js
 * program or component provider talks to: the resource monitor (register
 * resources, outputs, invokes) and the engine (logs, root resource). The
 * real entry points (`@pulumi/pulumi/cmd/run`, a component provider's
 * Construct) run against it unchanged, so tests see what `pulumi up` would
 * send the engine without a CLI or a cloud.
 *
 * Like `pulumi up` (not preview), every custom resource is "created" with its
 * inputs as state, so outputs resolve; nothing computed by a provider exists.
 */

export interface Registration {
  urn: string;
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  /** Provider reference (`urn::id`) for a custom resource, '' for the default provider. */
  provider: string;
  /** Inputs as sent; secrets keep Pulumi's wrapper. */
  inputs: Record<string, unknown>;
}

export interface LogEntry {
  severity: number;
  message: string;
}

/** Feature flags the SDK asks for; the ones a current engine answers yes to and this fake honours. */
const FEATURES = new Set(['secrets', 'resourceReferences', 'outputValues', 'aliasSpecs', 'deletedWith']);

/** Engine-style URN: the parent's full qualified type, never its name (the root stack adds nothing). */
function urnOf(stack: string, project: string, parent: string, type: string, name: string): string {
  const parentType = parent ? parent.split('::')[2]! : '';
  const qualified = parentType && parentType !== 'pulumi:pulumi:Stack' ? `${parentType}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

export interface FakeEngine {
  /** `127.0.0.1:<port>`: both the monitor and the engine address. */
  address: string;
  registrations: Registration[];
  /** Component outputs by URN (registerResourceOutputs). */
  outputs: Map<string, Record<string, unknown>>;
  logs: LogEntry[];
  /**
   * Puts a resource into the fake state, as if an earlier step of the same
   * deployment had created it (e.g. the provider a multi-language program
   * passes to a component: the provider host reads it back by URN).
   */
  seed(urn: string, id: string, state: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startFakeEngine(project: string, stack: string): Promise<FakeEngine> {
  const registrations: Registration[] = [];
  const outputs = new Map<string, Record<string, unknown>>();
  const logs: LogEntry[] = [];
  let root = '';
  let ids = 0;
  const known = new Map<string, { id: string; state: Record<string, unknown> }>();

  const monitor: grpc.UntypedServiceImplementation = {
    supportsFeature(call: grpc.ServerUnaryCall<resproto.SupportsFeatureRequest, resproto.SupportsFeatureResponse>, cb: grpc.sendUnaryData<resproto.SupportsFeatureResponse>) {
      const resp = new resproto.SupportsFeatureResponse();
      resp.setHassupport(FEATURES.has(call.request.getId()));
      cb(null, resp);
    },
    registerResource(call: grpc.ServerUnaryCall<resproto.RegisterResourceRequest, resproto.RegisterResourceResponse>, cb: grpc.sendUnaryData<resproto.RegisterResourceResponse>) {
      const req = call.request;
      const urn = urnOf(stack, project, req.getParent(), req.getType(), req.getName());
      const inputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
      registrations.push({ urn, type: req.getType(), name: req.getName(), parent: req.getParent(), custom: req.getCustom(), provider: req.getProvider(), inputs });
      const resp = new resproto.RegisterResourceResponse();
      resp.setUrn(urn);
      if (req.getCustom()) {
        const id = `${req.getName()}-${++ids}`;
        known.set(urn, { id, state: inputs });
        resp.setId(id);
        resp.setObject(Struct.fromJavaScript(inputs as Parameters<typeof Struct.fromJavaScript>[0]));
      }
      cb(null, resp);
    },
    registerResourceOutputs(call: grpc.ServerUnaryCall<resproto.RegisterResourceOutputsRequest, Empty>, cb: grpc.sendUnaryData<Empty>) {
      outputs.set(call.request.getUrn(), (call.request.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>);
      cb(null, new Empty());
    },
    invoke(call: grpc.ServerUnaryCall<resproto.ResourceInvokeRequest, provproto.InvokeResponse>, cb: grpc.sendUnaryData<provproto.InvokeResponse>) {
      const resp = new provproto.InvokeResponse();
      if (call.request.getTok() === 'pulumi:pulumi:getResource') {
        // How an SDK reads back a resource it only knows by URN (a provider reference).
        const urn = String(call.request.getArgs()?.toJavaScript().urn ?? '');
        const r = known.get(urn);
        if (!r) {
          cb({ code: grpc.status.NOT_FOUND, details: `unknown resource ${urn}` }, null);
          return;
        }
        resp.setReturn(Struct.fromJavaScript({ urn, id: r.id, state: r.state } as Parameters<typeof Struct.fromJavaScript>[0]));
      } else {
        resp.setReturn(Struct.fromJavaScript({}));
      }
      cb(null, resp);
    },
    signalAndWaitForShutdown(_call: grpc.ServerUnaryCall<Empty, Empty>, cb: grpc.sendUnaryData<Empty>) {
      cb(null, new Empty());
    },
  };

  const engine: grpc.UntypedServiceImplementation = {
    log(call: grpc.ServerUnaryCall<engineproto.LogRequest, Empty>, cb: grpc.sendUnaryData<Empty>) {
      logs.push({ severity: call.request.getSeverity(), message: call.request.getMessage() });
      cb(null, new Empty());
    },
    getRootResource(_call: grpc.ServerUnaryCall<engineproto.GetRootResourceRequest, engineproto.GetRootResourceResponse>, cb: grpc.sendUnaryData<engineproto.GetRootResourceResponse>) {
      const resp = new engineproto.GetRootResourceResponse();
      resp.setUrn(root);
      cb(null, resp);
    },
    setRootResource(call: grpc.ServerUnaryCall<engineproto.SetRootResourceRequest, engineproto.SetRootResourceResponse>, cb: grpc.sendUnaryData<engineproto.SetRootResourceResponse>) {
      root = call.request.getUrn();
      cb(null, new engineproto.SetRootResourceResponse());
    },
  };

  const server = new grpc.Server();
  server.addService(resrpc.ResourceMonitorService as unknown as grpc.ServiceDefinition, monitor);
  server.addService(enginerpc.EngineService as unknown as grpc.ServiceDefinition, engine);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    registrations,
    outputs,
    logs,
    seed: (urn, id, state) => void known.set(urn, { id, state }),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
