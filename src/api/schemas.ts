// TypeBox schemas of the wire objects. They check JSON types (mapped to ModelArts.6332/6335 by
// error-mapping.ts) and generate /openapi.json. Value rules (ranges, characters, enums in any
// case) live in domain/validation.ts so that each failure carries its documented code.
import { Type, type TSchema } from '@sinclair/typebox';

const Str = (description?: string) => Type.String(description ? { description } : {});
const Int = (description?: string) => Type.Integer(description ? { description } : {});
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorBody = Type.Object(
  { error_code: Str('e.g. ModelArts.6404'), error_msg: Str(), request_id: Type.Optional(Str()) },
  { $id: 'Error' },
);

export const ProjectParams = Type.Object({ project_id: Str('Project ID') });
export const NotebookParams = Type.Object({ project_id: Str(), id: Str('Notebook instance ID (UUID)') });
export const ResourceParams = Type.Object({ project_id: Str(), resource_id: Str('Notebook instance ID') });
export const ImageParams = Type.Object({ project_id: Str(), id: Str('Image ID') });

const LeaseReq = Type.Object({
  duration: Type.Optional(Int('ms, 3600000..259200000 by default; -1 disables auto-stop on create/start')),
  type: Type.Optional(Str('TIMING | IDLE (any case)')),
});

const EndpointReq = Type.Object({
  service: Type.Optional(Str('NOTEBOOK | SSH')),
  key_pair_names: Type.Optional(Nullable(Type.Array(Str()))),
  allowed_access_ips: Type.Optional(Nullable(Type.Array(Str(), { description: 'At most 5 addresses or CIDR blocks; empty = all' }))),
});

const HookConfig = Type.Object({
  script: Type.Optional(Str('base64 script (COMMAND) or absolute path (SCRIPT)')),
  type: Type.Optional(Str('COMMAND | SCRIPT (default)')),
  mode: Type.Optional(Str('BLOCK | ASYNC (default)')),
});

const Hooks = Type.Object({
  container_hooks: Type.Optional(
    Nullable(Type.Object({ pre_start: Type.Optional(Nullable(HookConfig)), post_start: Type.Optional(Nullable(HookConfig)) })),
  ),
});

export const NotebookCreateRequest = Type.Object({
  name: Str('≤128 of [A-Za-z0-9_-]'),
  flavor: Str(),
  image_id: Str(),
  volume: Type.Object({
    category: Str('EVS | EFS'),
    ownership: Type.Optional(Str('MANAGED')),
    capacity: Type.Optional(Int('GB; EVS 5..4096, default 5')),
  }),
  description: Type.Optional(Str('≤512, without &<>"\'/')),
  feature: Type.Optional(Str('DEFAULT | NOTEBOOK')),
  duration: Type.Optional(Int('ms; wins over lease and forces TIMING; -1 = no auto-stop')),
  lease: Type.Optional(Nullable(LeaseReq)),
  endpoints: Type.Optional(Nullable(Type.Array(EndpointReq))),
  hooks: Type.Optional(Nullable(Hooks)),
  workspace_id: Type.Optional(Str()),
  pool_id: Type.Optional(Nullable(Str())),
});

export const NotebookUpdateRequest = Type.Object({
  name: Type.Optional(Str()),
  description: Type.Optional(Str()),
  endpoints: Type.Optional(Nullable(Type.Array(EndpointReq))),
  flavor: Type.Optional(Str('must be one of ShowSwitchableFlavors')),
  image_id: Type.Optional(Str()),
  storage_new_size: Type.Optional(Int('GB, grow only, ≤4096')),
  hooks: Type.Optional(Nullable(Hooks)),
});

export const LeaseRequestBody = Type.Union([LeaseReq, Type.Null()]);

export const TagsBody = Type.Object({ tags: Type.Array(Type.Object({ key: Str(), value: Type.Optional(Str()) })) });

export const ImageRegisterRequest = Type.Object({
  swr_path: Str('[registry[:port]/]namespace/name:tag'),
  description: Type.Optional(Str()),
  arch: Type.Optional(Str()),
  origin: Type.Optional(Str()),
  resource_category: Type.Optional(Type.Array(Str())),
  service_type: Type.Optional(Str()),
  services: Type.Optional(Type.Array(Str())),
  visibility: Type.Optional(Str()),
  workspace_id: Type.Optional(Str()),
  tags: Type.Optional(Type.Array(Str())),
  read_me: Type.Optional(Str()),
  program: Type.Optional(Str('notebookd extension: NOTEBOOK (classic UI, default) | JUPYTER_SERVER')),
});

export const ImageDeleteBody = Type.Union([Type.Object({ is_force: Type.Optional(Type.Boolean()) }), Type.Null()]);

export const Lease = Type.Object(
  {
    create_at: Int(),
    duration: Int('counted from create_at: the stop time is create_at + duration'),
    enable: Type.Boolean(),
    type: Str('TIMING | IDLE'),
    update_at: Int(),
    stop_at: Nullable(Int()),
    last_activity_at: Nullable(Int()),
    last_activity_source: Nullable(Str()),
  },
  { $id: 'Lease' },
);

const Query = (fields: Record<string, string>) =>
  Type.Object(Object.fromEntries(Object.entries(fields).map(([k, d]) => [k, Type.Optional(Str(d))])), { additionalProperties: true });

export const ListNotebooksQuery = Query({
  feature: 'DEFAULT | NOTEBOOK',
  limit: '10, 20 or 50 (default 10)',
  offset: 'record offset',
  name: 'fuzzy match',
  pool_id: '',
  owner: 'user id (ListAllNotebooks, admins)',
  sort_dir: 'ASC | DESC (default DESC)',
  sort_key: 'create_at | update_at | name | status | flavor',
  status: 'one of the 14 statuses',
  workspace_id: '',
  flavor: '',
  image_id: '',
  id: '',
  tags: 'key or key=value, separated by , or |',
});
export const StartQuery = Query({ duration: 'ms; -1 disables auto-stop', type: 'TIMING | IDLE' });
export const LeaseQuery = Query({ duration: 'ms; wins over the body and forces TIMING' });
export const FlavorQuery = Query({ category: 'CPU | GPU | ASCEND', limit: '', offset: '', type: '', sort_dir: '', sort_key: '', flavor_type: '', feature: '' });
export const ImageQuery = Query({ limit: 'default 200', offset: '', name: '', name_fuzzy_match: 'true (default) | false', namespace: '', type: 'BUILD_IN | DEDICATED', sort_dir: '', sort_key: '', workspace_id: '', service_type: '' });
export const EventsQuery = Query({ after: 'event id to continue after', limit: '1..1000, default 100' });
