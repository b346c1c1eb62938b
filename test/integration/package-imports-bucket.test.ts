// The direct-upload resources of the packaged CloudFormation template: the imports bucket (encryption,
// public access blocked, TLS only, CORS for the configured origins, lifecycle expiry), its event queue
// and dead-letter queue, the arrival function's trigger, and each role's S3/SQS rights (least privilege).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageInto } from '../helpers/packaged-template.js';

type Resource = { Type: string; DependsOn?: string[]; Properties: Record<string, unknown> };
type Template = { Resources: Record<string, Resource> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Policy = { PolicyName: string; PolicyDocument: { Statement: Statement[] } };

const directories: string[] = [];
let template: Template;
let tuned: Template;

/** Packages into a temp dir of this file's (removed after all); returns the template. */
async function packageTemplate(extraArgs: string[] = []): Promise<Template> {
  const directory = await mkdtemp(join(tmpdir(), 'eclectyc-package-bucket-'));
  directories.push(directory);
  return packageInto<Template>(directory, extraArgs);
}

beforeAll(async () => {
  template = await packageTemplate();
  tuned = await packageTemplate(['--param', 'importRetentionDays=7']);
}, 300_000);

afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

function resource(from: Template, name: string): Resource {
  const found = from.Resources[name];
  if (found === undefined) throw new Error(`no resource ${name} in the template`);
  return found;
}

function bucket(from: Template = template): Record<string, unknown> {
  return resource(from, 'ImportBucket').Properties;
}

/** Every statement of a role's inline policies that grants an action of the given service. */
function grants(roleName: string, service: string): Statement[] {
  const policies = (resource(template, roleName).Properties.Policies ?? []) as Policy[];
  return policies
    .flatMap((policy) => policy.PolicyDocument.Statement)
    .filter((statement) => [statement.Action].flat().some((action) => action.startsWith(`${service}:`)));
}

// CloudFormation Fn::Sub strings: the escaped ${…} parts are CloudFormation's, not JavaScript's.
const IMPORTS_PREFIX = { 'Fn::Sub': `arn:\${AWS::Partition}:s3:::\${ImportBucket}/imports/*` };

describe('the imports bucket', () => {
  it('encrypts every object at rest (SSE-S3)', () => {
    expect(bucket().BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('blocks all public access and disables ACLs', () => {
    expect(bucket().PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket().OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  });

  it('denies every request not made over TLS, on the bucket and its objects', () => {
    const policy = resource(template, 'ImportBucketPolicy').Properties;
    expect(policy.Bucket).toEqual({ Ref: 'ImportBucket' });
    expect((policy.PolicyDocument as { Statement: Statement[] }).Statement).toEqual([
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [{ 'Fn::GetAtt': ['ImportBucket', 'Arn'] }, { 'Fn::Sub': `\${ImportBucket.Arn}/*` }],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
  });

  it('allows browser POSTs from the configured origins only, never "*"', () => {
    const cors = bucket().CorsConfiguration as { CorsRules: Array<Record<string, unknown>> };
    expect(cors.CorsRules).toEqual([
      {
        AllowedOrigins: ['https://example.invalid'],
        AllowedMethods: ['POST'],
        AllowedHeaders: ['content-type'],
        ExposedHeaders: ['ETag', 'Location'],
        MaxAge: 600,
      },
    ]);
    expect(JSON.stringify(cors)).not.toContain('*');
  });

  it('deletes uploads importRetentionDays after creation, following the param', () => {
    const rules = (b: Record<string, unknown>) =>
      (b.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> }).Rules;
    expect(rules(bucket())).toEqual([
      {
        Id: 'expire-uploads',
        Status: 'Enabled',
        Prefix: 'imports/',
        ExpirationInDays: 30,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
    // A --param arrives as a string; CloudFormation takes "7" for an integer property.
    expect(String(rules(bucket(tuned))[0]?.ExpirationInDays)).toBe('7');
  });

  it('sends object-created events under imports/ to the upload-events queue, which only this bucket may write', () => {
    expect(bucket().NotificationConfiguration).toEqual({
      QueueConfigurations: [
        {
          Event: 's3:ObjectCreated:*',
          Queue: { 'Fn::GetAtt': ['UploadEventsQueue', 'Arn'] },
          Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'imports/' }] } },
        },
      ],
    });
    expect(resource(template, 'ImportBucket').DependsOn).toEqual(['UploadEventsQueuePolicy']);
    const queuePolicy = resource(template, 'UploadEventsQueuePolicy').Properties.PolicyDocument as {
      Statement: Statement[];
    };
    expect(queuePolicy.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['UploadEventsQueue', 'Arn'] },
        Condition: {
          ArnEquals: {
            'aws:SourceArn': {
              'Fn::Sub': `arn:\${AWS::Partition}:s3:::eclectyc-ci-imports-\${AWS::AccountId}-\${AWS::Region}`,
            },
          },
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        },
      },
    ]);
    expect(bucket().BucketName).toEqual({
      'Fn::Sub': `eclectyc-ci-imports-\${AWS::AccountId}-\${AWS::Region}`,
    });
  });
});

describe('the upload-events queue and the arrival function', () => {
  it('moves a message that failed five times to the dead-letter queue; both queues are encrypted', () => {
    const queue = resource(template, 'UploadEventsQueue').Properties;
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['UploadEventsDeadLetterQueue', 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(queue.VisibilityTimeout).toBe(180);
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(resource(template, 'UploadEventsDeadLetterQueue').Properties.SqsManagedSseEnabled).toBe(true);
  });

  it('triggers s3UploadArrived in batches with partial batch failures, at most its reserved concurrency', () => {
    expect(
      resource(template, 'S3UploadArrivedEventSourceMappingSQSUploadEventsQueue').Properties,
    ).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['UploadEventsQueue', 'Arn'] },
      FunctionName: { 'Fn::GetAtt': ['S3UploadArrivedLambdaFunction', 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });
});

describe('S3 and SQS rights of each role', () => {
  it('lets the API sign uploads into imports/ (s3:PutObject) and nothing else in S3', () => {
    expect(grants('ApiRole', 's3')).toEqual([
      { Effect: 'Allow', Action: ['s3:PutObject'], Resource: [IMPORTS_PREFIX] },
    ]);
    expect(grants('ApiRole', 'sqs')).toEqual([]);
  });

  it('lets the processor read imports/ (s3:GetObject) and nothing else in S3', () => {
    expect(grants('ProcessImportsRole', 's3')).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [IMPORTS_PREFIX] },
    ]);
    expect(grants('ProcessImportsRole', 'sqs')).toEqual([]);
  });

  it('lets the arrival function consume its queue only, and never touch objects', () => {
    expect(grants('S3UploadArrivedRole', 'sqs')).toEqual([
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: [{ 'Fn::GetAtt': ['UploadEventsQueue', 'Arn'] }],
      },
    ]);
    expect(grants('S3UploadArrivedRole', 's3')).toEqual([]);
    expect(grants('MonitorRole', 's3')).toEqual([]);
  });

  it('gives the api and the processor the bucket and the upload limits, and no local endpoint', () => {
    const variables = (fn: string) =>
      (resource(template, fn).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables('ApiLambdaFunction')).toMatchObject({
      IMPORT_BUCKET: { Ref: 'ImportBucket' },
      IMPORT_S3_ENDPOINT: '',
      IMPORT_MAX_OBJECT_BYTES: '5368709120',
      IMPORT_UPLOAD_URL_TTL_S: '900',
    });
    expect(variables('ProcessImportsLambdaFunction')).toMatchObject({
      IMPORT_BUCKET: { Ref: 'ImportBucket' },
      IMPORT_S3_ENDPOINT: '',
      IMPORT_UPLOAD_EXPIRY_MARGIN_S: '3600',
    });
  });
});
